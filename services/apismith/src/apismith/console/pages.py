"""APISmith's workbench pages: connections (list, test), the SQL check (the guard's
verdict, the rewritten SQL, the columns), APIs with their versions, and the execution
audit. Admin pages; a reader sees APIs and the audit and changes nothing."""

import difflib
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, get_args
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BeforeValidator, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.apis import service as apis_service
from apismith.apis.schemas import ApiIn
from apismith.auth.security import decode_token
from apismith.catalog import catalog_write
from apismith.connections import service as connections_service
from apismith.connections.schemas import ConnectionIn
from apismith.console.access import access_pages, principal_of
from apismith.drivers.base import Dialect
from apismith.drivers.registry import Drivers
from apismith.executions import service as executions_service
from apismith.executions.schemas import ExecutionFilter, ExecutionStatus
from apismith.executions.writer import AuditLog
from apismith.runtime import service as runtime_service
from apismith.runtime.context import Runtime
from apismith.runtime.schemas import ExecuteRequest
from apismith.settings import Settings
from apismith.tables import users
from bridge_core.console import ConsoleKit, ConsoleUser, NavItem
from bridge_core.console.forms import attempt, form_text, validation_detail
from bridge_core.console.service_kit import service_console_kit
from bridge_core.db.transaction import Connection, get_database
from bridge_core.errors import BridgeError, Unauthorized
from bridge_core.http.paging import PageNumber

HERE = Path(__file__).parent
PREVIEW_ROWS = 20
NAV = (
    NavItem("", "APIs"),
    NavItem("/connections", "Connections"),
    NavItem("/sql", "SQL workbench"),
    NavItem("/executions", "Execution audit"),
    NavItem("/tokens", "Tokens"),
    NavItem("/users", "Users"),
)
CONNECTION_FIELDS = ("name", "dialect", "statement_timeout_ms", "max_rows", "pool_size", "timezone")


def build_console(settings: Settings) -> tuple[ConsoleKit, APIRouter]:
    """APISmith's console kit and page router (``kit.install(app, router)`` serves them)."""

    async def session_user(request: Request, token: str) -> ConsoleUser:
        claims = decode_token(token, settings=settings)
        if claims.typ != "access":
            raise Unauthorized("not a session token")
        admin = claims.role == "admin"
        return ConsoleUser(
            name=claims.name, role=claims.role, can_change=admin, is_admin=admin, uid=claims.subject
        )

    kit = service_console_kit(
        "apismith", HERE, NAV, users=users, settings=settings, session_user=session_user
    )
    pages = _pages(kit, settings)
    pages.include_router(access_pages(kit, settings))
    return kit, pages


def _pages(kit: ConsoleKit, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Viewer = Annotated[ConsoleUser, Depends(kit.user)]
    Admin = Annotated[ConsoleUser, Depends(kit.admin)]

    @router.get("")
    async def apis(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        listing = await apis_service.list_apis(conn=conn, page=1, page_size=500)
        return kit.render(request, "apismith/apis.html", {"page": listing}, user=user)

    @router.get("/apis/{uid}")
    async def api_page(request: Request, uid: UUID, user: Viewer, conn: Connection) -> HTMLResponse:
        api = await apis_service.get_api(conn=conn, uid=uid)
        versions = await apis_service.list_versions(conn=conn, uid=uid)
        # newest first: each version is compared with the one saved before it
        diffs = [
            "\n".join(
                difflib.unified_diff(
                    older.definition.sql.splitlines(),
                    newer.definition.sql.splitlines(),
                    f"version {older.version}",
                    f"version {newer.version}",
                    lineterm="",
                )
            )
            for newer, older in itertools.pairwise(versions)
        ]
        context = {"api": api, "versions": versions, "diffs": diffs}
        return kit.render(request, "apismith/api.html", context, user=user)

    async def connections_page(
        request: Request,
        conn: AsyncConnection,
        user: ConsoleUser,
        values: dict[str, str] | None = None,
        error: str | None = None,
    ) -> HTMLResponse:
        listing = await connections_service.list_connections(conn=conn) if user.is_admin else []
        context = {
            "connections": listing,
            "dialects": list(Dialect),
            "values": values or dict.fromkeys(CONNECTION_FIELDS, ""),
            "error": error,
        }
        return kit.render_form(request, "apismith/connections.html", context, user=user)

    @router.get("/connections")
    async def connections(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        return await connections_page(request, conn, user)

    @router.post("/connections", dependencies=[catalog_write])
    async def create_connection(
        request: Request, user: Admin, conn: Connection, drivers: Drivers
    ) -> Response:
        """Register an ERP database; the form comes back with the reason when refused
        (the URL is never sent back: it holds the password)."""
        form = await request.form()
        values = {key: form_text(form, key) for key in CONNECTION_FIELDS}

        async def change() -> None:
            options = {k: values[k] or None for k in CONNECTION_FIELDS[2:]}
            body = ConnectionIn.model_validate(
                {
                    "name": values["name"],
                    "dialect": values["dialect"],
                    "url": form_text(form, "url"),
                    "options": options,
                }
            )
            await connections_service.create_connection(
                conn=conn,
                drivers=drivers,
                settings=settings,
                own_database=get_database(request).engine.url,
                body=body,
            )

        reason = await attempt((conn,), change)
        if reason:
            return await connections_page(request, conn, user, values, reason)
        return RedirectResponse("/console/connections", status_code=303)

    @router.post("/connections/{uid}/test")
    async def test_connection(
        request: Request, uid: UUID, user: Admin, conn: Connection, drivers: Drivers
    ) -> HTMLResponse:
        try:
            result = await connections_service.ping_connection(conn=conn, drivers=drivers, uid=uid)
            context: dict[str, object] = {"result": result, "error": None}
        except BridgeError as exc:
            context = {"result": None, "error": exc.detail}
        return kit.render(request, "apismith/connection_test.html", context, user=user)

    @router.get("/sql")
    async def sql_page(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        listing = await connections_service.list_connections(conn=conn) if user.is_admin else []
        return kit.render(request, "apismith/sql.html", {"connections": listing}, user=user)

    @router.post("/sql/check")
    async def check_sql(
        request: Request,
        user: Admin,
        conn: Connection,
        drivers: Drivers,
        connection_uid: Annotated[UUID, Form()],
        sql: Annotated[str, Form()],
    ) -> HTMLResponse:
        """The guard's verdict as a partial: the reason when refused, else the rewritten
        SQL and the columns."""
        try:
            rewritten, columns = await apis_service.check_sql(
                conn=conn, drivers=drivers, connection_uid=connection_uid, sql=sql
            )
            context: dict[str, object] = {
                "rewritten": rewritten,
                "columns": columns,
                "connection_uid": connection_uid,
                "sql": sql,
            }
        except BridgeError as exc:
            context = {"reason": exc.detail}
        return kit.render(request, "apismith/sql_verdict.html", context, user=user)

    @router.post("/apis/save", dependencies=[catalog_write])
    async def save_api(
        request: Request,
        user: Admin,
        conn: Connection,
        drivers: Drivers,
        connection_uid: Annotated[UUID, Form()],
        sql: Annotated[str, Form()],
        slug: Annotated[str, Form()],
        name: Annotated[str, Form()],
        business_keys: Annotated[list[str], Form()],
        rowversion_column: Annotated[str, Form()] = "",
    ) -> Response:
        """Save the checked SQL: a new API, or the next version of the API with this slug."""
        try:
            body = ApiIn(
                slug=slug,
                name=name,
                connection_uid=connection_uid,
                sql=sql,
                business_keys=business_keys,
                rowversion_column=rowversion_column or None,
                delta_strategy="rowversion" if rowversion_column else "hash",
            )
        except ValidationError as exc:
            reason = validation_detail(exc)
            return kit.render(request, "apismith/sql_verdict.html", {"reason": reason}, user=user)
        existing = await apis_service.find_api_by_slug(conn=conn, slug=slug)
        try:
            if existing is None:
                api = await apis_service.create_api(
                    conn=conn, drivers=drivers, body=body, principal=principal_of(user)
                )
            else:
                body = body.model_copy(
                    update={"description": existing.description, "params": existing.params}
                )
                api = await apis_service.update_api(
                    conn=conn,
                    drivers=drivers,
                    uid=existing.uid,
                    body=body,
                    principal=principal_of(user),
                )
        except BridgeError as exc:
            return kit.render(
                request, "apismith/sql_verdict.html", {"reason": exc.detail}, user=user
            )
        return Response(headers={"HX-Redirect": f"/console/apis/{api.uid}"})

    @router.post("/apis/{uid}/preview")
    async def preview(
        request: Request,
        uid: UUID,
        user: Viewer,
        conn: Connection,
        runtime: Runtime,
    ) -> HTMLResponse:
        """The API's first page, run as the signed-in user (and so in the audit)."""
        await kit.check_csrf(request)
        api = await apis_service.get_api(conn=conn, uid=uid)
        try:
            page = await runtime_service.execute(
                runtime=runtime,
                principal=principal_of(user),
                slug=api.slug,
                body=ExecuteRequest(page_size=PREVIEW_ROWS),
            )
            context: dict[str, object] = {"page": orjson.loads(page.content), "error": None}
        except BridgeError as exc:
            context = {"page": None, "error": exc.detail}
        return kit.render(request, "apismith/preview.html", context, user=user)

    @router.get("/executions")
    async def executions(
        request: Request,
        user: Viewer,
        audit: AuditLog,
        conn: Connection,
        slug: str | None = None,
        principal: str | None = None,
        status: Annotated[ExecutionStatus | None, BeforeValidator(_empty_is_none)] = None,
        time_from: Annotated[datetime | None, BeforeValidator(_empty_is_none)] = None,
        time_to: Annotated[datetime | None, BeforeValidator(_empty_is_none)] = None,
        page: PageNumber = 1,
    ) -> HTMLResponse:
        """The audit filtered by API, principal, status and time (UTC, ``time_to``
        excluded), with each API's latency over the same rows."""
        await audit.flush()  # this process's queued calls are listed too
        filters = ExecutionFilter(
            slug=slug or None,
            principal=principal or None,
            status=status,
            created_from=_utc(time_from),
            created_before=_utc(time_to),
        )
        listing = await executions_service.list_executions(
            conn=conn, filters=filters, page=page, page_size=100
        )
        latency = await executions_service.latency_by_api(conn=conn, filters=filters)
        context = {
            "page": listing,
            "latency": latency,
            "slowest": max((row.p95_ms for row in latency), default=0) or 1,
            "slug": slug,
            "principal": principal,
            "status": status,
            "statuses": get_args(ExecutionStatus),
            "time_from": time_from.strftime("%Y-%m-%dT%H:%M") if time_from else "",
            "time_to": time_to.strftime("%Y-%m-%dT%H:%M") if time_to else "",
        }
        return kit.render(request, "apismith/executions.html", context, user=user)

    return router


def _empty_is_none(value: object) -> object:
    """An empty filter field means no filter."""
    return None if value == "" else value


def _utc(moment: datetime | None) -> datetime | None:
    """A filter time as typed (``datetime-local`` has no zone): read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
