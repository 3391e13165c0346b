"""The console's plan pages: schedules (intervals, cron, night windows, multi-day) and
destinations (create, edit, pause, resume, delete; secrets never shown again).

Thin handlers over the features' services, as in :mod:`.definitions`: a refused form
comes back as typed with the reason; a form that went through redirects to its list.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.console import ConsoleKit, ConsoleUser
from bridge_core.console.forms import attempt, form_text
from bridge_core.db.transaction import Connection
from syncflow.console import forms
from syncflow.destinations import service as destinations_service
from syncflow.domain import SyncMode
from syncflow.entities import service as entities_service
from syncflow.schedules import service as schedules_service
from syncflow.schedules.router import Now
from syncflow.settings import Settings

PREFIX = "/console"


def _back(back: str) -> str:
    """Where a pause or resume returns: the Deliveries page it was pressed on, or the
    destinations."""
    if back.startswith(f"{PREFIX}/deliveries") and "//" not in back and "\\" not in back:
        return back
    return f"{PREFIX}/destinations"


def plan_pages(kit: ConsoleKit, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Viewer = Annotated[ConsoleUser, Depends(kit.user)]
    Changer = Annotated[ConsoleUser, Depends(kit.changer)]

    # --- schedules -------------------------------------------------------------------

    @router.get("/schedules")
    async def schedules(
        request: Request, user: Viewer, conn: Connection, entity: str | None = None
    ) -> HTMLResponse:
        listing = await schedules_service.list_schedules(
            conn, entity=entity or None, page=1, page_size=200
        )
        return kit.render(request, "syncflow/schedules.html", {"page": listing}, user=user)

    async def schedule_form(
        request: Request,
        conn: AsyncConnection,
        user: ConsoleUser,
        values: dict[str, str],
        *,
        editing: UUID | None,
        error: str | None = None,
    ) -> HTMLResponse:
        context = {
            "values": values,
            "editing": editing,
            "error": error,
            "names": [e.name for e in await entities_service.list_entities(conn)],
            "modes": list(SyncMode),
        }
        return kit.render_form(request, "syncflow/schedule_form.html", context, user=user)

    @router.get("/schedules/new")
    async def new_schedule_page(
        request: Request, user: Viewer, conn: Connection, entity: str = ""
    ) -> HTMLResponse:
        values = forms.schedule_values(entity=entity)
        return await schedule_form(request, conn, user, values, editing=None)

    async def save_schedule(
        request: Request, user: ConsoleUser, conn: AsyncConnection, now: Any, uid: UUID | None
    ) -> Response:
        """Create (``uid`` None) or change a schedule from its form."""
        values = forms.schedule_form_values(await request.form())

        async def change() -> None:
            body = forms.schedule_body(values)
            if uid is None:
                await schedules_service.create_schedule(conn, body=body, now=now)
            else:
                await schedules_service.update_schedule(conn, uid=uid, body=body, now=now)

        reason = await attempt((conn,), change)
        if reason:
            return await schedule_form(request, conn, user, values, editing=uid, error=reason)
        return RedirectResponse(f"{PREFIX}/schedules", status_code=303)

    @router.post("/schedules/new")
    async def create_schedule(
        request: Request, user: Changer, conn: Connection, now: Now
    ) -> Response:
        return await save_schedule(request, user, conn, now, None)

    @router.get("/schedules/{uid}/edit")
    async def edit_schedule_page(
        request: Request, uid: UUID, user: Viewer, conn: Connection
    ) -> HTMLResponse:
        schedule = await schedules_service.get_schedule(conn, uid=uid)
        values = forms.schedule_values(schedule)
        return await schedule_form(request, conn, user, values, editing=uid)

    @router.post("/schedules/{uid}/edit")
    async def edit_schedule(
        request: Request, uid: UUID, user: Changer, conn: Connection, now: Now
    ) -> Response:
        return await save_schedule(request, user, conn, now, uid)

    @router.post("/schedules/{uid}/delete")
    async def delete_schedule(uid: UUID, user: Changer, conn: Connection) -> Response:
        await schedules_service.delete_schedule(conn, uid=uid)
        return RedirectResponse(f"{PREFIX}/schedules", status_code=303)

    # --- destinations ----------------------------------------------------------------

    @router.get("/destinations")
    async def destinations(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        listing = await destinations_service.list_destinations(
            conn, settings=settings, page=1, page_size=200
        )
        return kit.render(request, "syncflow/destinations.html", {"page": listing}, user=user)

    async def destination_form(
        request: Request,
        user: ConsoleUser,
        values: dict[str, str],
        *,
        editing: Any,
        error: str | None = None,
    ) -> HTMLResponse:
        context = {"values": values, "editing": editing, "error": error}
        return kit.render_form(request, "syncflow/destination_form.html", context, user=user)

    @router.get("/destinations/new")
    async def new_destination_page(request: Request, user: Viewer) -> HTMLResponse:
        return await destination_form(request, user, forms.destination_values(), editing=None)

    async def save_destination(
        request: Request, user: ConsoleUser, conn: AsyncConnection, uid: UUID | None
    ) -> Response:
        """Create (``uid`` None) or change a destination from its form."""
        form = await request.form()
        values = forms.destination_form_values(form)

        async def change() -> None:
            if uid is None:
                body = forms.destination_create(values, form)
                await destinations_service.create_destination(conn, settings=settings, body=body)
            else:
                await destinations_service.update_destination(
                    conn, settings=settings, uid=uid, body=forms.destination_update(values, form)
                )

        reason = await attempt((conn,), change)
        if not reason:
            return RedirectResponse(f"{PREFIX}/destinations", status_code=303)
        editing = None
        if uid is not None:
            editing = await destinations_service.get_destination(conn, settings=settings, uid=uid)
        return await destination_form(request, user, values, editing=editing, error=reason)

    @router.post("/destinations/new")
    async def create_destination(request: Request, user: Changer, conn: Connection) -> Response:
        return await save_destination(request, user, conn, None)

    @router.get("/destinations/{uid}/edit")
    async def edit_destination_page(
        request: Request, uid: UUID, user: Viewer, conn: Connection
    ) -> HTMLResponse:
        destination = await destinations_service.get_destination(conn, settings=settings, uid=uid)
        values = forms.destination_values(destination)
        return await destination_form(request, user, values, editing=destination)

    @router.post("/destinations/{uid}/edit")
    async def edit_destination(
        request: Request, uid: UUID, user: Changer, conn: Connection
    ) -> Response:
        return await save_destination(request, user, conn, uid)

    @router.post("/destinations/{uid}/pause")
    async def pause_destination(
        uid: UUID, request: Request, user: Changer, conn: Connection
    ) -> Response:
        form = await request.form()
        reason = form_text(form, "reason") or "paused by an operator"
        await destinations_service.pause_destination(
            conn, settings=settings, uid=uid, reason=f"{reason} ({user.name})"
        )
        return RedirectResponse(_back(form_text(form, "back")), status_code=303)

    @router.post("/destinations/{uid}/resume")
    async def resume_destination(
        uid: UUID, request: Request, user: Changer, conn: Connection
    ) -> Response:
        await destinations_service.resume_destination(conn, settings=settings, uid=uid)
        return RedirectResponse(_back(form_text(await request.form(), "back")), status_code=303)

    @router.post("/destinations/{uid}/delete")
    async def delete_destination(uid: UUID, user: Changer, conn: Connection) -> Response:
        await destinations_service.delete_destination(conn, uid=uid)
        return RedirectResponse(f"{PREFIX}/destinations", status_code=303)

    return router
