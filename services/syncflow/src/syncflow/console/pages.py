"""SyncFlow's console pages: thin handlers over the existing services, rendered by the kit.

Every page takes the signed-in user first (``kit.user``: redirect to sign-in when
none); every ``POST`` takes ``kit.changer`` (a valid CSRF token and a role that may
change things). Filters are query parameters, so a filtered page is a shareable link.
"""

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BeforeValidator

from bridge_core.console import ConsoleKit, ConsoleUser, NavItem
from bridge_core.console.service_kit import service_console_kit
from bridge_core.db.transaction import Connection
from bridge_core.errors import BadRequest
from bridge_core.http.paging import PageNumber
from syncflow.auth.dependencies import principal_of_token
from syncflow.console.definitions import definition_pages
from syncflow.console.deliveries import delivery_pages
from syncflow.console.overview import (
    DEAD_LETTERS,
    delivery_by_entity,
    flags,
    trend_points,
    trend_svg,
)
from syncflow.console.plans import plan_pages
from syncflow.domain import SyncMode
from syncflow.entities import service as entities_service
from syncflow.monitoring import service as monitoring_service
from syncflow.monitoring.schemas import FailedRecordFilter
from syncflow.settings import Settings
from syncflow.sync import service as sync_service
from syncflow.sync.schemas import BatchFilter
from syncflow.sync.wake import WakeExecutor
from syncflow.tables import users
from syncflow.targets.dependencies import TargetConnection

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
    NavItem("/destinations", "Destinations"),
    NavItem("/deliveries", "Deliveries"),
    NavItem("/trends", "Trends"),
)


def _empty_is_none(value: object) -> object:
    """An empty filter field means no filter."""
    return None if value == "" else value


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


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

    kit = service_console_kit(
        "syncflow", HERE, NAV, users=users, settings=settings, session_user=session_user
    )
    pages = _pages(kit)
    pages.include_router(definition_pages(kit, settings))
    pages.include_router(plan_pages(kit, settings))
    pages.include_router(delivery_pages(kit, settings))
    return kit, pages


def _pages(kit: ConsoleKit) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Viewer = Annotated[ConsoleUser, Depends(kit.user)]
    Changer = Annotated[ConsoleUser, Depends(kit.changer)]

    @router.get("")
    async def overview(
        request: Request, user: Viewer, conn: Connection, target: TargetConnection
    ) -> HTMLResponse:
        stats = await monitoring_service.stats(conn, target)
        by_name = {e.entity: e for e in stats.entities}
        deliveries = delivery_by_entity(stats.deliveries)
        rows = []
        for entity in await entities_service.list_entities(conn):
            recent = await sync_service.history(
                conn, filters=BatchFilter(entity=entity.name), page=1, page_size=RECENT_BATCHES
            )
            last = next((b for b in recent.items if b.status not in ACTIVE), None)
            delivery = deliveries.get(entity.name)
            dead = [DEAD_LETTERS] if delivery and delivery.dead else []
            rows.append(
                {
                    "name": entity.name,
                    "stats": by_name.get(entity.name),
                    "last": last,
                    "active": next((b for b in recent.items if b.status in ACTIVE), None),
                    "delivery": delivery,
                    "flags": [*flags(recent.items), *dead],
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
        user: Changer,
        conn: Connection,
        wake: WakeExecutor,
        entity: Annotated[str, Form()],
        mode: Annotated[SyncMode, Form()] = SyncMode.INCREMENTAL,
        dry_run: Annotated[bool, Form()] = False,
    ) -> RedirectResponse:
        batch = await sync_service.start_sync(conn, entity=entity, mode=mode.value, dry_run=dry_run)
        wake()
        return RedirectResponse(f"/console/batches/{batch.batch_uid}", status_code=303)

    @router.get("/batches")
    async def batches(
        request: Request,
        user: Viewer,
        conn: Connection,
        entity: str | None = None,
        status: str | None = None,
        date_from: Annotated[date | None, BeforeValidator(_empty_is_none)] = None,
        date_to: Annotated[date | None, BeforeValidator(_empty_is_none)] = None,
        page: PageNumber = 1,
    ) -> HTMLResponse:
        """Batches queued from ``date_from`` through ``date_to`` (whole UTC days)."""
        filters = BatchFilter(
            entity=entity or None,
            status=status or None,
            created_from=_day_start(date_from),
            created_before=_day_start(date_to + timedelta(days=1) if date_to else None),
        )
        listing = await sync_service.history(conn, filters=filters, page=page, page_size=50)
        names = [e.name for e in await entities_service.list_entities(conn)]
        context = {
            "page": listing,
            "entity": entity,
            "status": status,
            "date_from": date_from,
            "date_to": date_to,
            "names": names,
        }
        return kit.render(request, "syncflow/batches.html", context, user=user)

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
        filters = FailedRecordFilter(
            entity=entity or None,
            batch_uid=batch_uid,
            stage=stage or None,
            include_resolved=include_resolved,
        )
        listing = await monitoring_service.list_failed_records(
            conn, filters=filters, page=page, page_size=50
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

    @router.post("/failed/selected")
    async def failed_selected(
        user: Changer,
        conn: Connection,
        wake: WakeExecutor,
        action: Annotated[str, Form()],
        record_uid: Annotated[list[UUID], Form()] = [],  # noqa: B006 (FastAPI copies it)
        back: Annotated[str, Form()] = "",
    ) -> RedirectResponse:
        """Retry or dismiss the ticked records; a retry shows its batch (or the batches)."""
        if not record_uid:
            raise BadRequest("tick at least one record")
        if action == "retry":
            batches = await sync_service.retry_records(conn, record_uids=record_uid)
            wake()
            if len(batches) == 1:
                return RedirectResponse(f"/console/batches/{batches[0].batch_uid}", status_code=303)
            return RedirectResponse("/console/batches?status=pending", status_code=303)
        if action != "dismiss":
            raise BadRequest(f"unknown action {action!r}")
        await monitoring_service.dismiss_failed_records(conn, record_uids=record_uid, by=user.name)
        listing = back if back.startswith("/console/failed") else "/console/failed"
        return RedirectResponse(listing, status_code=303)

    @router.post("/failed/retry")
    async def retry_failed(
        user: Changer, conn: Connection, wake: WakeExecutor, entity: Annotated[str, Form()]
    ) -> RedirectResponse:
        """Re-run every unresolved failed record of the entity (the filter's entity)."""
        batch = await sync_service.retry_failed(conn, entity=entity)
        wake()
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
                conn, filters=BatchFilter(entity=item.name), page=1, page_size=30
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
