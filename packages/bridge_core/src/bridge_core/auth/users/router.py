"""The users endpoints of a service, built from its table, roles and dependencies.

``users_router`` serves ``POST /auth/login``, ``POST /auth/refresh``, ``POST``/``GET
/users`` (admin) and ``GET /auth/me`` (the caller); a service includes it beside its own
token endpoints. ``console_sign_in`` is the same sign-in for a service's console kit.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, status
from pydantic import BaseModel
from sqlalchemy import Table

from bridge_core.auth.tokens import TokenClaims, decode_token
from bridge_core.auth.users import service
from bridge_core.auth.users.schemas import (
    LoginRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserOut,
)
from bridge_core.console.kit import SignIn
from bridge_core.db.transaction import Connection, get_database
from bridge_core.errors import Unauthorized
from bridge_core.http.throttle import sign_in_throttle
from bridge_core.settings import ServiceSettings

__all__ = ["console_sign_in", "one_of", "users_router"]


def one_of(names: Sequence[str]) -> str:
    """``a, b or c``: the roles in a description."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def users_router(
    *,
    table: Table,
    roles: Sequence[str],
    user_create: type[UserCreate[Any]],
    user_out: type[UserOut[Any]],
    get_settings: Callable[[Request], Awaitable[ServiceSettings]],
    require_admin: Callable[..., Awaitable[object]],
    caller: Callable[..., Awaitable[object]],
    caller_out: type[BaseModel],
    caller_description: str,
) -> APIRouter:
    """Sign-in, refresh, users (admin) over ``table`` and the caller, for tokens with one of
    ``roles``.

    ``user_create`` and ``user_out`` are the service's subclasses of the generic bodies
    (its role set), so its OpenAPI document lists its roles. ``GET /auth/me`` answers the
    principal that the service's ``caller`` dependency authenticates, as ``caller_out``
    (each service's principal has its own kinds), described by ``caller_description``.
    """
    router = APIRouter()
    AppSettings = Annotated[ServiceSettings, Depends(get_settings)]

    async def verified_refresh_claims(
        body: Annotated[RefreshRequest, Body()], settings: AppSettings
    ) -> TokenClaims:
        """The claims of a body's refresh token, checked before any connection is taken."""
        token = body.refresh_token.get_secret_value()
        claims = decode_token(token, settings=settings, roles=roles)
        if claims.typ != "refresh":
            raise Unauthorized("not a refresh token")
        return claims

    @router.post("/auth/login", tags=["auth"])
    async def login(
        request: Request, body: LoginRequest, settings: AppSettings, conn: Connection
    ) -> TokenPair:
        """Exchange a username and password for an access token and a refresh token
        (429 with Retry-After while the account or the address is locked out)."""
        async with sign_in_throttle(request).sign_in(request, account=body.username):
            return await service.login(
                conn=conn,
                table=table,
                settings=settings,
                username=body.username,
                password=body.password.get_secret_value(),
            )

    @router.post("/auth/refresh", tags=["auth"])
    async def refresh(
        claims: Annotated[TokenClaims, Depends(verified_refresh_claims)],
        settings: AppSettings,
        conn: Connection,
    ) -> TokenPair:
        """Exchange a refresh token for a new access token."""
        return await service.refresh(conn=conn, table=table, settings=settings, claims=claims)

    async def create_user(body: UserCreate[Any], conn: Connection) -> service.User:
        return await service.create_user(
            conn=conn,
            table=table,
            username=body.username,
            password=body.password.get_secret_value(),
            role=body.role,
        )

    # FastAPI reads a body's model from its annotation: the service's, which knows its roles
    create_user.__annotations__["body"] = user_create
    router.post(
        "/users",
        tags=["users"],
        status_code=status.HTTP_201_CREATED,
        dependencies=[Depends(require_admin)],
        response_model=user_out,
        description=f"Create a user with the {one_of([f'``{role}``' for role in roles])} role.",
    )(create_user)

    @router.get(
        "/users",
        tags=["users"],
        dependencies=[Depends(require_admin)],
        response_model=list[user_out],  # type: ignore[valid-type]  # a value here, not a type
    )
    async def list_users(conn: Connection) -> list[service.User]:
        """Every user (never a password or its hash)."""
        return await service.list_users(conn=conn, table=table)

    @router.get(
        "/auth/me", tags=["auth"], response_model=caller_out, description=caller_description
    )
    async def me(principal: Annotated[object, Depends(caller)]) -> BaseModel:
        return caller_out.model_validate(principal, from_attributes=True)

    return router


def console_sign_in(*, table: Table, settings: ServiceSettings) -> SignIn:
    """A console kit's sign-in: a user's access token and its lifetime, or 401."""

    async def sign_in(request: Request, username: str, password: str) -> tuple[str, int]:
        async with get_database(request).transaction() as conn:
            tokens = await service.login(
                conn=conn, table=table, settings=settings, username=username, password=password
            )
        return tokens.access_token, tokens.expires_in

    return sign_in
