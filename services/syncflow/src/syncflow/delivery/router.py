"""The pull feed: ``GET /entities/{name}/changes``, a keyset feed over the outbox."""

from typing import Annotated

from fastapi import APIRouter, Query

from bridge_core.db.transaction import Connection
from syncflow.auth.dependencies import Operator
from syncflow.delivery import service
from syncflow.delivery.schemas import MAX_FEED_LIMIT, ChangePage
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
