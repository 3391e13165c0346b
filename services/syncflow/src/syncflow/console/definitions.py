"""The console's definition pages: sources (test, discover their APIs) and entities (field
mappings, parent refs, verify): view, create, edit, delete. Schedules and destinations
are in :mod:`.plans`.

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
from bridge_core.console.forms import attempt
from bridge_core.db.transaction import Connection
from bridge_core.errors import BridgeError
from syncflow.console import forms
from syncflow.domain import DeltaStrategy, FieldType
from syncflow.entities import service as entities_service
from syncflow.settings import Settings
from syncflow.sources import service as sources_service
from syncflow.sources.schemas import SourceCreate, SourceUpdate
from syncflow.targets.dependencies import TargetConnection
from syncflow.verify import service as verify_service

PREFIX = "/console"


def definition_pages(kit: ConsoleKit, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Viewer = Annotated[ConsoleUser, Depends(kit.user)]
    Changer = Annotated[ConsoleUser, Depends(kit.changer)]

    # --- sources ---------------------------------------------------------------------

    async def sources_page(
        request: Request, conn: AsyncConnection, user: ConsoleUser, **context: Any
    ) -> HTMLResponse:
        listing = await sources_service.list_sources(conn)
        values = context.pop("values", {"name": "", "base_url": ""})
        context = {"sources": listing, "values": values, **context}
        return kit.render_form(request, "syncflow/sources.html", context, user=user)

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
            context = {"source": source.model_copy(update={"base_url": base_url}), "error": reason}
            return kit.render_form(request, "syncflow/source_form.html", context, user=user)
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
        return kit.render_form(request, "syncflow/entity_form.html", context, user=user)

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

    async def save_entity(
        request: Request,
        user: ConsoleUser,
        conn: AsyncConnection,
        target_conn: AsyncConnection,
        name: str | None,
    ) -> Response:
        """Create (``name`` None) or replace an entity from its form."""
        values = forms.entity_form_values(await request.form())
        if name is not None:
            values["name"] = name

        async def change() -> None:
            if name is None:
                body = forms.entity_create(values)
                await entities_service.create_entity(
                    conn, target_conn, settings=settings, body=body
                )
            else:
                await entities_service.update_entity(
                    conn,
                    target_conn,
                    settings=settings,
                    name=name,
                    body=forms.entity_update(values),
                )

        reason = await attempt((conn, target_conn), change)
        if reason:
            return await entity_form(request, conn, user, values, editing=name, error=reason)
        return RedirectResponse(f"{PREFIX}/entities", status_code=303)

    @router.post("/entities/new")
    async def create_entity(
        request: Request, user: Changer, conn: Connection, target_conn: TargetConnection
    ) -> Response:
        return await save_entity(request, user, conn, target_conn, None)

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
        return await save_entity(request, user, conn, target_conn, name)

    @router.post("/entities/{name}/delete")
    async def delete_entity(
        request: Request, name: str, user: Changer, conn: Connection
    ) -> Response:
        reason = await attempt((conn,), lambda: entities_service.delete_entity(conn, name=name))
        if reason:
            listing = await entities_service.list_entities(conn)
            context = {"entities": listing, "error": reason}
            return kit.render_form(request, "syncflow/entities.html", context, user=user)
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

    return router
