"""The console's Deliveries page: events on their way to destinations, filtered by
destination, entity and state (in the URL), dead letters with their last answer and
attempts; replay the ticked events or everything the filter matches.

Thin handlers over the delivery service: replay is its ``replay`` (same ids, pending and
due now, nothing in flight touched, no key taken back to an older state). It replays one
destination at a time, so without a destination filter the console asks each destination
in turn. The list polls its live part while events it could show are pending or in flight
at a destination that is delivering (a paused destination's events wait for a resume).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BeforeValidator
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.console import ConsoleKit, ConsoleUser
from bridge_core.db.transaction import Connection
from bridge_core.errors import BadRequest
from bridge_core.http.paging import MAX_PAGE_SIZE, PageNumber
from syncflow.delivery import service as delivery_service
from syncflow.delivery.schemas import DeliveryState, DeliveryStream
from syncflow.destinations import service as destinations_service
from syncflow.destinations.schemas import DestinationOut
from syncflow.entities import service as entities_service
from syncflow.settings import Settings
from syncflow.targets.dependencies import TargetConnection

STATES: tuple[str, ...] = get_args(DeliveryState)
PAGE_SIZE = 50
PAGE = "/console/deliveries"


def _empty_is_none(value: object) -> object:
    """An empty filter field means no filter."""
    return None if value == "" else value


Filter = Annotated[str | None, BeforeValidator(_empty_is_none)]
StateFilter = Annotated[DeliveryState | None, BeforeValidator(_empty_is_none)]


@dataclass(frozen=True)
class Listing:
    """The list's filters and page, from the URL (the page and its live part read the same)."""

    destination: Filter = None
    entity: Filter = None
    state: StateFilter = None
    page: PageNumber = 1


def chosen_destination(
    destinations: Sequence[DestinationOut], name_or_uid: str | None
) -> DestinationOut | None:
    """The filter's destination (by name or uid), if any."""
    return next((d for d in destinations if name_or_uid in (d.name, str(d.uid))), None)


def watching(streams: Sequence[DeliveryStream], destinations: Sequence[DestinationOut]) -> bool:
    """Whether events of ``streams`` (the filter's scope) are pending (in the ledger, or in
    the outbox not read yet) or in flight at a destination that is delivering (enabled,
    not paused): only then can the page change by itself."""
    delivering = {d.name for d in destinations if d.enabled and not d.paused}
    return any(s.pending + s.delivering > 0 and s.destination in delivering for s in streams)


def back_with(back: str, replayed: int) -> str:
    """The page the form was on (the Deliveries page only), saying how many were replayed."""
    parts = urlsplit(back)
    if parts.scheme or parts.netloc or parts.path != PAGE:
        return f"{PAGE}?replayed={replayed}"
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "replayed"]
    return f"{PAGE}?{urlencode([*query, ('replayed', str(replayed))])}"


def delivery_pages(kit: ConsoleKit, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Viewer = Annotated[ConsoleUser, Depends(kit.user)]
    Changer = Annotated[ConsoleUser, Depends(kit.changer)]

    async def all_destinations(conn: AsyncConnection) -> list[DestinationOut]:
        listing = await destinations_service.list_destinations(
            conn, settings=settings, page_size=MAX_PAGE_SIZE
        )
        return listing.items

    async def listing_context(
        conn: AsyncConnection, target: AsyncConnection, query: Listing
    ) -> dict[str, object]:
        destination, entity, state = query.destination, query.entity, query.state
        listing = await delivery_service.list_deliveries(
            conn,
            destination=destination,
            entity=entity,
            state=state,
            page=query.page,
            page_size=PAGE_SIZE,
        )
        destinations = await all_destinations(conn)
        chosen = chosen_destination(destinations, destination)
        streams = [
            stream
            for stream in await delivery_service.streams(conn, target)
            if (chosen is None or stream.destination == chosen.name)
            and (entity is None or stream.entity == entity)
        ]
        live = watching(streams, destinations)
        filters = {
            name: value
            for name, value in (("destination", destination), ("entity", entity), ("state", state))
            if value
        }
        return {
            "page": listing,
            "streams": streams,
            "live": live,
            "filters": filters,
            "query": urlencode(filters),
            "destinations": destinations,
            "chosen": chosen,
            "last_page": max(1, -(-listing.total // PAGE_SIZE)),
        }

    @router.get("/deliveries")
    async def deliveries(
        request: Request,
        user: Viewer,
        conn: Connection,
        target: TargetConnection,
        query: Annotated[Listing, Depends()],
        replayed: int | None = None,
    ) -> HTMLResponse:
        context = await listing_context(conn, target, query)
        names = [e.name for e in await entities_service.list_entities(conn)]
        context |= {"names": names, "states": STATES, "replayed": replayed}
        return kit.render(request, "syncflow/deliveries.html", context, user=user)

    @router.get("/deliveries/live")
    async def deliveries_live(
        request: Request,
        user: Viewer,
        conn: Connection,
        target: TargetConnection,
        query: Annotated[Listing, Depends()],
    ) -> HTMLResponse:
        """The list alone; rendered without a poll trigger once nothing is left to watch."""
        context = await listing_context(conn, target, query)
        return kit.render(request, "syncflow/deliveries_live.html", context, user=user)

    async def replay(
        conn: AsyncConnection,
        *,
        destination: str | None,
        entity: str | None,
        state: str | None,
        uids: list[UUID] | None,
    ) -> int:
        names = [destination] if destination else [d.name for d in await all_destinations(conn)]
        replayed = 0
        for name in names:
            result = await delivery_service.replay(
                conn, destination=name, entity=entity, state=state, uids=uids
            )
            replayed += result.replayed
        return replayed

    @router.post("/deliveries/replay-selected")
    async def replay_selected(
        user: Changer,
        conn: Connection,
        uid: Annotated[list[UUID], Form()] = [],  # noqa: B006 (FastAPI copies it)
        destination: Annotated[Filter, Form()] = None,
        back: Annotated[str, Form()] = PAGE,
    ) -> RedirectResponse:
        """Replay the ticked events."""
        if not uid:
            raise BadRequest("tick at least one event")
        replayed = await replay(conn, destination=destination, entity=None, state=None, uids=uid)
        return RedirectResponse(back_with(back, replayed), status_code=303)

    @router.post("/deliveries/replay-matching")
    async def replay_matching(
        user: Changer,
        conn: Connection,
        destination: Annotated[Filter, Form()] = None,
        entity: Annotated[Filter, Form()] = None,
        state: Annotated[StateFilter, Form()] = None,
        back: Annotated[str, Form()] = PAGE,
    ) -> RedirectResponse:
        """Replay every event the filter matches (except those in flight)."""
        replayed = await replay(
            conn, destination=destination, entity=entity, state=state, uids=None
        )
        return RedirectResponse(back_with(back, replayed), status_code=303)

    return router
