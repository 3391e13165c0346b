"""The pull feed (``GET /entities/{name}/changes``), deliveries by state, and replay."""

from typing import Annotated

from fastapi import APIRouter, Query

from bridge_core.db.transaction import Connection
from bridge_core.http.paging import PageNumber, PageSize
from syncflow.auth.dependencies import Operator
from syncflow.delivery import service
from syncflow.delivery.schemas import (
    MAX_FEED_LIMIT,
    ChangePage,
    DeliveryPage,
    DeliveryState,
    DeliveryStream,
    ReplayRequest,
    ReplayResult,
)
from syncflow.targets.dependencies import TargetConnection

router = APIRouter(tags=["delivery"])


@router.get("/entities/{name}/changes")
async def entity_changes(
    name: str,
    _: Operator,
    conn: Connection,
    target_conn: TargetConnection,
    after: Annotated[int, Query(ge=0, description="the `next` of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_LIMIT)] = 100,
) -> ChangePage:
    """The entity's inserted, updated and deleted rows in commit order, after a cursor."""
    return await service.changes_after(conn, target_conn, entity=name, after=after, limit=limit)


@router.get("/deliveries", responses={404: {"description": "unknown destination"}})
async def list_deliveries(
    _: Operator,
    conn: Connection,
    destination: Annotated[str | None, Query(description="name or uid")] = None,
    entity: str | None = None,
    state: DeliveryState | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> DeliveryPage:
    """Events on their way to destinations, newest first, each with its attempts."""
    return await service.list_deliveries(
        conn, destination=destination, entity=entity, state=state, page=page, page_size=page_size
    )


@router.get("/deliveries/streams")
async def delivery_streams(
    _: Operator, conn: Connection, target_conn: TargetConnection
) -> list[DeliveryStream]:
    """Per destination and entity: how far delivery has read the outbox, what waits
    (unread, pending, in flight, dead) and the lag."""
    return await service.streams(conn, target_conn)


@router.post("/deliveries/replay", responses={404: {"description": "unknown destination"}})
async def replay_deliveries(_: Operator, conn: Connection, body: ReplayRequest) -> ReplayResult:
    """Send matching events again: same ids, waiting retries cancelled, due now."""
    return await service.replay(
        conn,
        destination=body.destination,
        entity=body.entity,
        state=body.state,
        uids=body.uids,
        batch_uid=body.batch_uid,
    )
