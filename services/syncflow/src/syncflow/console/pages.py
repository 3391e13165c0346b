"""SyncFlow's console pages: thin handlers over the existing services, rendered by the kit.

Every page takes the signed-in user first (``kit.user``: redirect to sign-in when
none); every ``POST`` takes ``kit.changer`` (a valid CSRF token and a role that may
change things). Filters are query parameters, so a filtered page is a shareable link.
"""

from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bridge_core.auth.users.router import console_sign_in
from bridge_core.console import ConsoleKit, ConsoleUser, NavItem
from bridge_core.db.transaction import Connection
from bridge_core.errors import BridgeError
from bridge_core.http.paging import PageNumber
from syncflow.auth.dependencies import principal_of_token
from syncflow.console.overview import flags, trend_points, trend_svg
from syncflow.domain import SyncMode
from syncflow.entities import service as entities_service
from syncflow.monitoring import service as monitoring_service
from syncflow.schedules import service as schedules_service
from syncflow.settings import Settings
from syncflow.sources import service as sources_service
from syncflow.sync import service as sync_service
from syncflow.sync.router import wake_executor
from syncflow.tables import users
from syncflow.verify import service as verify_service

HERE = Path(__file__).parent
ACTIVE = ("pending", "running")
RECENT_BATCHES = 20
NAV = (
    NavItem("", "Overview"),
    NavItem("/batches", "Batches"),
    NavItem("/failed", "Failed records"),
    NavItem("/parked", "Parked children"),
    NavItem("/sources", "Sources"),
    NavItem("/entities", "Entities"),
    NavItem("/schedules", "Schedules"),
    NavItem("/trends", "Trends"),
)


def build_console(settings: Settings) -> tuple[ConsoleKit, APIRouter]:
    """SyncFlow's console kit and page router (``kit.install(app, router)`` serves them)."""

    async def session_user(request: Request, token: str) -> ConsoleUser:
        principal = await principal_of_token(request, settings, token)
        return ConsoleUser(
            name=principal.name,
            role=principal.role,
            can_change=principal.can_change,
            is_admin=principal.is_admin,
        )

    kit = ConsoleKit(
        service="syncflow",
        template_dir=HERE / "templates",
        catalog_dir=HERE / "translations",
        nav=NAV,
        sign_in=console_sign_in(table=users, settings=settings),
        session_user=session_user,
        secure_cookies=settings.environment != "development" and settings.environment != "test",
    )
    return kit, _pages(kit, settings)


def _pages(kit: ConsoleKit, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Viewer = Annotated[ConsoleUser, Depends(kit.user)]
    Changer = Annotated[ConsoleUser, Depends(kit.changer)]

    @router.get("")
    async def overview(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        stats = await monitoring_service.stats(conn)
        by_name = {e.entity: e for e in stats.entities}
        rows = []
        for entity in await entities_service.list_entities(conn):
            recent = await sync_service.history(
                conn, entity=entity.name, status=None, page=1, page_size=RECENT_BATCHES
            )
            last = next((b for b in recent.items if b.status not in ACTIVE), None)
            rows.append(
                {
                    "name": entity.name,
                    "stats": by_name.get(entity.name),
                    "last": last,
                    "active": next((b for b in recent.items if b.status in ACTIVE), None),
                    "flags": flags(recent.items),
                }
            )
        return kit.render(
            request,
            "syncflow/overview.html",
            {"rows": rows, "batches": stats.batches, "modes": list(SyncMode)},
            user=user,
        )

    @router.post("/sync")
    async def sync_now(
        request: Request,
        user: Changer,
        conn: Connection,
        entity: Annotated[str, Form()],
        mode: Annotated[SyncMode, Form()] = SyncMode.INCREMENTAL,
        dry_run: Annotated[bool, Form()] = False,
    ) -> RedirectResponse:
        batch = await sync_service.start_sync(conn, entity=entity, mode=mode.value, dry_run=dry_run)
        wake_executor(request)
        return RedirectResponse(f"/console/batches/{batch.batch_uid}", status_code=303)

    @router.get("/batches")
    async def batches(
        request: Request,
        user: Viewer,
        conn: Connection,
        entity: str | None = None,
        status: str | None = None,
        page: PageNumber = 1,
    ) -> HTMLResponse:
        listing = await sync_service.history(
            conn, entity=entity or None, status=status or None, page=page, page_size=50
        )
        names = [e.name for e in await entities_service.list_entities(conn)]
        return kit.render(
            request,
            "syncflow/batches.html",
            {"page": listing, "entity": entity, "status": status, "names": names},
            user=user,
        )

    async def _batch_context(conn: Connection, batch_uid: UUID) -> dict[str, object]:
        batch = await sync_service.get_status(conn, batch_uid=batch_uid)
        total = sum(batch.stage_seconds.values())
        return {"batch": batch, "stage_total": total, "live": batch.status in ACTIVE}

    @router.get("/batches/{batch_uid}")
    async def batch_page(
        request: Request, batch_uid: UUID, user: Viewer, conn: Connection
    ) -> HTMLResponse:
        context = await _batch_context(conn, batch_uid)
        return kit.render(request, "syncflow/batch.html", context, user=user)

    @router.get("/batches/{batch_uid}/live")
    async def batch_live(
        request: Request, batch_uid: UUID, user: Viewer, conn: Connection
    ) -> HTMLResponse:
        """The batch's live part; rendered without a poll trigger once the batch has ended."""
        context = await _batch_context(conn, batch_uid)
        return kit.render(request, "syncflow/batch_live.html", context, user=user)

    @router.post("/batches/{batch_uid}/stop")
    async def stop_batch(batch_uid: UUID, user: Changer, conn: Connection) -> RedirectResponse:
        await sync_service.stop(conn, batch_uid=batch_uid)
        return RedirectResponse(f"/console/batches/{batch_uid}", status_code=303)

    @router.get("/failed")
    async def failed(
        request: Request,
        user: Viewer,
        conn: Connection,
        entity: str | None = None,
        batch_uid: UUID | None = None,
        stage: str | None = None,
        include_resolved: bool = False,
        page: PageNumber = 1,
    ) -> HTMLResponse:
        listing = await monitoring_service.list_failed_records(
            conn,
            entity=entity or None,
            batch_uid=batch_uid,
            stage=stage or None,
            include_resolved=include_resolved,
            page=page,
            page_size=50,
        )
        names = [e.name for e in await entities_service.list_entities(conn)]
        context = {
            "page": listing,
            "entity": entity,
            "batch_uid": batch_uid,
            "stage": stage,
            "include_resolved": include_resolved,
            "names": names,
        }
        return kit.render(request, "syncflow/failed.html", context, user=user)

    @router.post("/failed/retry")
    async def retry_failed(
        request: Request, user: Changer, conn: Connection, entity: Annotated[str, Form()]
    ) -> RedirectResponse:
        """Re-run every unresolved failed record of the entity (the filter's entity)."""
        batch = await sync_service.retry_failed(conn, entity=entity)
        wake_executor(request)
        return RedirectResponse(f"/console/batches/{batch.batch_uid}", status_code=303)

    @router.get("/parked")
    async def parked(
        request: Request,
        user: Viewer,
        conn: Connection,
        entity: str | None = None,
        page: PageNumber = 1,
    ) -> HTMLResponse:
        listing = await monitoring_service.list_pending_children(
            conn, entity=entity or None, parent_entity=None, page=page, page_size=50
        )
        names = [e.name for e in await entities_service.list_entities(conn)]
        context = {"page": listing, "entity": entity, "names": names}
        return kit.render(request, "syncflow/parked.html", context, user=user)

    @router.get("/sources")
    async def sources(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        listing = await sources_service.list_sources(conn)
        return kit.render(request, "syncflow/sources.html", {"sources": listing}, user=user)

    @router.post("/sources/{uid}/test")
    async def test_source(
        request: Request, uid: UUID, user: Changer, conn: Connection
    ) -> HTMLResponse:
        """Reach the source's APISmith; the result replaces the row's result cell (HTMX)."""
        try:
            result = await sources_service.check_source(conn, settings=settings, uid=uid)
            context: dict[str, object] = {"result": result, "error": None}
        except BridgeError as exc:
            context = {"result": None, "error": exc.detail}
        return kit.render(request, "syncflow/source_test.html", context, user=user)

    @router.get("/entities")
    async def entities(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        listing = await entities_service.list_entities(conn)
        return kit.render(request, "syncflow/entities.html", {"entities": listing}, user=user)

    @router.post("/entities/{name}/verify")
    async def verify(request: Request, name: str, user: Changer, conn: Connection) -> HTMLResponse:
        """Source versus target for one entity, as a partial under the entity."""
        try:
            report = await verify_service.verify_entity(
                conn,
                target_database=request.app.state.target_database,
                settings=settings,
                name=name,
            )
            context: dict[str, object] = {"report": report, "error": None}
        except BridgeError as exc:
            context = {"report": None, "error": exc.detail}
        return kit.render(request, "syncflow/verify_result.html", context, user=user)

    @router.get("/schedules")
    async def schedules(
        request: Request, user: Viewer, conn: Connection, entity: str | None = None
    ) -> HTMLResponse:
        listing = await schedules_service.list_schedules(
            conn, entity=entity or None, page=1, page_size=200
        )
        return kit.render(request, "syncflow/schedules.html", {"page": listing}, user=user)

    @router.get("/trends")
    async def trends(
        request: Request, user: Viewer, conn: Connection, entity: str | None = None
    ) -> HTMLResponse:
        translations = kit.translations(request)
        charts = []
        for item in await entities_service.list_entities(conn):
            if entity and item.name != entity:
                continue
            recent = await sync_service.history(
                conn, entity=item.name, status=None, page=1, page_size=30
            )
            svg = trend_svg(
                trend_points(recent.items),
                title=item.name,
                rows_label=translations.gettext("rows"),
                seconds_label=translations.gettext("seconds"),
                max_label=translations.gettext("max"),
            )
            charts.append({"name": item.name, "svg": svg})
        return kit.render(request, "syncflow/trends.html", {"charts": charts}, user=user)

    return router
