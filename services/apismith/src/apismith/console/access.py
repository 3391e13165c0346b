"""The workbench's access pages (admin): service tokens (create, shown once; revoke) and
users (list, create). A reader sees that they are for admins and nothing else."""

from typing import Annotated, Any, cast, get_args
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.auth import service as auth_service
from apismith.auth.principal import Principal, Role
from apismith.auth.schemas import ServiceTokenCreate, ServiceTokenCreated, UserCreate
from apismith.auth.token_cache import Tokens
from apismith.settings import Settings
from apismith.tables import users as users_table
from bridge_core.auth.users import service as users_service
from bridge_core.console import ConsoleKit, ConsoleUser
from bridge_core.console.forms import attempt
from bridge_core.db.transaction import Connection

ROLE_CHOICES: tuple[str, ...] = get_args(Role)


def principal_of(user: ConsoleUser) -> Principal:
    """The API principal of a console user, so what they do is recorded as theirs."""
    assert user.uid is not None, "console users are signed-in users"
    return Principal(uid=user.uid, name=user.name, role=cast(Role, user.role), kind="user")


def access_pages(kit: ConsoleKit, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Viewer = Annotated[ConsoleUser, Depends(kit.user)]
    Admin = Annotated[ConsoleUser, Depends(kit.admin)]

    async def tokens_page(
        request: Request,
        conn: AsyncConnection,
        user: ConsoleUser,
        *,
        created: ServiceTokenCreated | None = None,
        error: str | None = None,
    ) -> HTMLResponse:
        listing = await auth_service.list_service_tokens(conn=conn) if user.is_admin else []
        context: dict[str, Any] = {
            "tokens": listing,
            "roles": ROLE_CHOICES,
            "created": created,
            "error": error,
        }
        status = 422 if error else 201 if created else 200
        return kit.render(request, "apismith/tokens.html", context, user=user, status_code=status)

    @router.get("/tokens")
    async def tokens(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        return await tokens_page(request, conn, user)

    @router.post("/tokens")
    async def create_token(
        request: Request,
        user: Admin,
        conn: Connection,
        name: Annotated[str, Form()],
        role: Annotated[str, Form()],
    ) -> HTMLResponse:
        """Issue a service token and show its value on this page, once (it is not stored)."""
        issued: list[ServiceTokenCreated] = []

        async def change() -> None:
            body = ServiceTokenCreate.model_validate({"name": name.strip(), "role": role})
            issued.append(
                await auth_service.create_service_token(
                    conn=conn,
                    settings=settings,
                    name=body.name,
                    role=body.role,
                    created_by=principal_of(user),
                )
            )

        reason = await attempt((conn,), change)
        page = await tokens_page(
            request, conn, user, created=issued[0] if issued else None, error=reason
        )
        page.headers["Cache-Control"] = "no-store"  # the token must not stay in a cache
        return page

    @router.post("/tokens/{uid}/revoke")
    async def revoke_token(
        uid: UUID, user: Admin, conn: Connection, cache: Tokens, after: BackgroundTasks
    ) -> Response:
        """Revoke a token: refused by this process from the next request on."""
        await auth_service.revoke_service_token(conn=conn, uid=uid)
        # after the commit: a request in between must not cache the token as good again
        after.add_task(cache.clear)
        return RedirectResponse("/console/tokens", status_code=303, background=after)

    async def users_page(
        request: Request,
        conn: AsyncConnection,
        user: ConsoleUser,
        *,
        username: str = "",
        error: str | None = None,
    ) -> HTMLResponse:
        listing = (
            await users_service.list_users(conn=conn, table=users_table) if user.is_admin else []
        )
        context = {"users": listing, "roles": ROLE_CHOICES, "username": username, "error": error}
        return kit.render_form(request, "apismith/users.html", context, user=user)

    @router.get("/users")
    async def users(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        return await users_page(request, conn, user)

    @router.post("/users")
    async def create_user(
        request: Request,
        user: Admin,
        conn: Connection,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        role: Annotated[str, Form()],
    ) -> Response:
        async def change() -> None:
            body = UserCreate.model_validate(
                {"username": username.strip(), "password": SecretStr(password), "role": role}
            )
            await users_service.create_user(
                conn=conn,
                table=users_table,
                username=body.username,
                password=body.password.get_secret_value(),
                role=body.role,
            )

        reason = await attempt((conn,), change)
        if reason:
            return await users_page(request, conn, user, username=username, error=reason)
        return RedirectResponse("/console/users", status_code=303)

    return router
