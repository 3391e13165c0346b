"""The console's definition pages: sources (test, discover their APIs), entities (field
mappings, parent refs, verify), schedules and destinations: view, create, edit, delete.

Thin handlers over the features' services. A refused form comes back as typed with the
reason (its writes rolled back to a savepoint, so the request's transaction commits
nothing of it); a form that went through redirects to its list.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.console import ConsoleKit, ConsoleUser
from bridge_core.console.forms import attempt, form_text
from bridge_core.db.transaction import Connection
from bridge_core.errors import BridgeError
from syncflow.console import forms
from syncflow.destinations import service as destinations_service
from syncflow.domain import DeltaStrategy, FieldType, SyncMode
from syncflow.entities import service as entities_service
from syncflow.schedules import service as schedules_service
from syncflow.schedules.router import Now
from syncflow.settings import Settings
from syncflow.sources import service as sources_service
from syncflow.sources.schemas import SourceCreate, SourceUpdate
from syncflow.targets.dependencies import TargetConnection
from syncflow.verify import service as verify_service

PREFIX = "/console"


def _back(back: str) -> str:
    """Where a pause or resume returns: the Deliveries page it was pressed on, or the
    destinations."""
    if back.startswith(f"{PREFIX}/deliveries") and "//" not in back and "\\" not in back:
        return back
    return f"{PREFIX}/destinations"


def definition_pages(kit: ConsoleKit, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Viewer = Annotated[ConsoleUser, Depends(kit.user)]
    Changer = Annotated[ConsoleUser, Depends(kit.changer)]

    def refused(
        request: Request, template: str, context: dict[str, Any], user: ConsoleUser, reason: str
    ) -> HTMLResponse:
        context = {**context, "error": reason}
        return kit.render(request, template, context, user=user, status_code=422)

    # --- sources ---------------------------------------------------------------------

    async def sources_page(
        request: Request, conn: AsyncConnection, user: ConsoleUser, **context: Any
    ) -> HTMLResponse:
        listing = await sources_service.list_sources(conn)
        values = context.pop("values", {"name": "", "base_url": ""})
        status = 422 if context.get("error") else 200
        return kit.render(
            request,
            "syncflow/sources.html",
            {"sources": listing, "values": values, **context},
            user=user,
            status_code=status,
        )

    @router.get("/sources")
    async def sources(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        return await sources_page(request, conn, user)

    @router.post("/sources")
    async def create_source(
        request: Request,
        user: Changer,
        conn: Connection,
        name: Annotated[str, Form()],
        base_url: Annotated[str, Form()],
        token: Annotated[str, Form()],
    ) -> Response:
        async def change() -> None:
            body = SourceCreate(name=name.strip(), base_url=base_url, token=SecretStr(token))
            await sources_service.create_source(conn, settings=settings, body=body)

        reason = await attempt((conn,), change)
        if reason:
            values = {"name": name, "base_url": base_url}
            return await sources_page(request, conn, user, values=values, error=reason)
        return RedirectResponse(f"{PREFIX}/sources", status_code=303)

    @router.get("/sources/{uid}/edit")
    async def edit_source_page(
        request: Request, uid: UUID, user: Viewer, conn: Connection
    ) -> HTMLResponse:
        source = await sources_service.get_source(conn, uid=uid)
        return kit.render(request, "syncflow/source_form.html", {"source": source}, user=user)

    @router.post("/sources/{uid}/edit")
    async def edit_source(
        request: Request,
        uid: UUID,
        user: Changer,
        conn: Connection,
        base_url: Annotated[str, Form()],
        token: Annotated[str, Form()] = "",
    ) -> Response:
        """Change the URL; a token typed in replaces the stored one (empty: kept)."""

        async def change() -> None:
            body = SourceUpdate(base_url=base_url, token=SecretStr(token) if token else None)
            await sources_service.update_source(conn, settings=settings, uid=uid, body=body)

        reason = await attempt((conn,), change)
        if reason:
            source = await sources_service.get_source(conn, uid=uid)
            context = {"source": source.model_copy(update={"base_url": base_url})}
            return refused(request, "syncflow/source_form.html", context, user, reason)
        return RedirectResponse(f"{PREFIX}/sources", status_code=303)

    @router.post("/sources/{uid}/delete")
    async def delete_source(
        request: Request, uid: UUID, user: Changer, conn: Connection
    ) -> Response:
        reason = await attempt((conn,), lambda: sources_service.delete_source(conn, uid=uid))
        if reason:
            return await sources_page(request, conn, user, error=reason)
        return RedirectResponse(f"{PREFIX}/sources", status_code=303)

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

    @router.post("/sources/{uid}/discover")
    async def discover(
        request: Request, uid: UUID, user: Changer, conn: Connection
    ) -> HTMLResponse:
        """The source's APIs with their columns and keys, as a partial under the source."""
        source = await sources_service.get_source(conn, uid=uid)
        try:
            apis = await sources_service.discover(conn, settings=settings, uid=uid)
            context: dict[str, object] = {"apis": apis, "source": source, "error": None}
        except BridgeError as exc:
            context = {"apis": [], "source": source, "error": exc.detail}
        return kit.render(request, "syncflow/source_discover.html", context, user=user)

    # --- entities --------------------------------------------------------------------

    @router.get("/entities")
    async def entities(request: Request, user: Viewer, conn: Connection) -> HTMLResponse:
        listing = await entities_service.list_entities(conn)
        return kit.render(request, "syncflow/entities.html", {"entities": listing}, user=user)

    async def entity_form(
        request: Request,
        conn: AsyncConnection,
        user: ConsoleUser,
        values: dict[str, Any],
        *,
        editing: str | None,
        error: str | None = None,
    ) -> HTMLResponse:
        context = {
            "values": values,
            "editing": editing,
            "error": error,
            "sources": await sources_service.list_sources(conn),
            "names": [e.name for e in await entities_service.list_entities(conn)],
            "types": list(FieldType),
            "strategies": list(DeltaStrategy),
            "blank_mappings": forms.BLANK_MAPPINGS,
            "blank_parents": forms.BLANK_PARENTS,
        }
        status = 422 if error else 200
        return kit.render(
            request, "syncflow/entity_form.html", context, user=user, status_code=status
        )

    @router.get("/entities/new")
    async def new_entity_page(
        request: Request,
        user: Viewer,
        conn: Connection,
        source: str = "",
        api_slug: str = "",
    ) -> HTMLResponse:
        """An empty entity form; ``source`` and ``api_slug`` (from discovery) fill it in."""
        values = forms.entity_values(source=source, api_slug=api_slug)
        return await entity_form(request, conn, user, values, editing=None)

    @router.post("/entities/new")
    async def create_entity(
        request: Request, user: Changer, conn: Connection, target_conn: TargetConnection
    ) -> Response:
        values = forms.entity_form_values(await request.form())

        async def change() -> None:
            body = forms.entity_create(values)
            await entities_service.create_entity(conn, target_conn, settings=settings, body=body)

        reason = await attempt((conn, target_conn), change)
        if reason:
            return await entity_form(request, conn, user, values, editing=None, error=reason)
        return RedirectResponse(f"{PREFIX}/entities", status_code=303)

    @router.get("/entities/{name}/edit")
    async def edit_entity_page(
        request: Request, name: str, user: Viewer, conn: Connection
    ) -> HTMLResponse:
        entity = await entities_service.get_entity(conn, name=name)
        return await entity_form(request, conn, user, forms.entity_values(entity), editing=name)

    @router.post("/entities/{name}/edit")
    async def edit_entity(
        request: Request,
        name: str,
        user: Changer,
        conn: Connection,
        target_conn: TargetConnection,
    ) -> Response:
        values = forms.entity_form_values(await request.form())
        values["name"] = name

        async def change() -> None:
            body = forms.entity_update(values)
            await entities_service.update_entity(
                conn, target_conn, settings=settings, name=name, body=body
            )

        reason = await attempt((conn, target_conn), change)
        if reason:
            return await entity_form(request, conn, user, values, editing=name, error=reason)
        return RedirectResponse(f"{PREFIX}/entities", status_code=303)

    @router.post("/entities/{name}/delete")
    async def delete_entity(
        request: Request, name: str, user: Changer, conn: Connection
    ) -> Response:
        reason = await attempt((conn,), lambda: entities_service.delete_entity(conn, name=name))
        if reason:
            listing = await entities_service.list_entities(conn)
            context = {"entities": listing}
            return refused(request, "syncflow/entities.html", context, user, reason)
        return RedirectResponse(f"{PREFIX}/entities", status_code=303)

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
        status = 422 if error else 200
        return kit.render(
            request, "syncflow/schedule_form.html", context, user=user, status_code=status
        )

    @router.get("/schedules/new")
    async def new_schedule_page(
        request: Request, user: Viewer, conn: Connection, entity: str = ""
    ) -> HTMLResponse:
        values = forms.schedule_values(entity=entity)
        return await schedule_form(request, conn, user, values, editing=None)

    @router.post("/schedules/new")
    async def create_schedule(
        request: Request, user: Changer, conn: Connection, now: Now
    ) -> Response:
        values = forms.schedule_form_values(await request.form())

        async def change() -> None:
            body = forms.schedule_body(values)
            await schedules_service.create_schedule(conn, body=body, now=now)

        reason = await attempt((conn,), change)
        if reason:
            return await schedule_form(request, conn, user, values, editing=None, error=reason)
        return RedirectResponse(f"{PREFIX}/schedules", status_code=303)

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
        values = forms.schedule_form_values(await request.form())

        async def change() -> None:
            body = forms.schedule_body(values)
            await schedules_service.update_schedule(conn, uid=uid, body=body, now=now)

        reason = await attempt((conn,), change)
        if reason:
            return await schedule_form(request, conn, user, values, editing=uid, error=reason)
        return RedirectResponse(f"{PREFIX}/schedules", status_code=303)

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
        status = 422 if error else 200
        return kit.render(
            request, "syncflow/destination_form.html", context, user=user, status_code=status
        )

    @router.get("/destinations/new")
    async def new_destination_page(request: Request, user: Viewer) -> HTMLResponse:
        return await destination_form(request, user, forms.destination_values(), editing=None)

    @router.post("/destinations/new")
    async def create_destination(request: Request, user: Changer, conn: Connection) -> Response:
        form = await request.form()
        values = forms.destination_form_values(form)

        async def change() -> None:
            body = forms.destination_create(values, form)
            await destinations_service.create_destination(conn, settings=settings, body=body)

        reason = await attempt((conn,), change)
        if reason:
            return await destination_form(request, user, values, editing=None, error=reason)
        return RedirectResponse(f"{PREFIX}/destinations", status_code=303)

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
        form = await request.form()
        values = forms.destination_form_values(form)

        async def change() -> None:
            body = forms.destination_update(values, form)
            await destinations_service.update_destination(
                conn, settings=settings, uid=uid, body=body
            )

        reason = await attempt((conn,), change)
        if reason:
            destination = await destinations_service.get_destination(
                conn, settings=settings, uid=uid
            )
            return await destination_form(request, user, values, editing=destination, error=reason)
        return RedirectResponse(f"{PREFIX}/destinations", status_code=303)

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
