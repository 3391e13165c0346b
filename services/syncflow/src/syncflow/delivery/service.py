"""Delivery's service functions: the pull feed over the outbox (push is not built yet)."""

from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.delivery.repository import OutboxRepository
from syncflow.delivery.schemas import ChangeEvent, ChangePage
from syncflow.entities import service as entities_service


async def changes_after(
    conn: AsyncConnection, target: AsyncConnection, *, entity: str, after: int, limit: int
) -> ChangePage:
    """The entity's change events after ``after``, oldest first; 404 for an unknown entity."""
    await entities_service.get_entity(conn, name=entity)
    rows = await OutboxRepository(target).events_after(entity=entity, after=after, limit=limit)
    items = [
        ChangeEvent(
            id=row["id"],
            op="delete" if row["operation"] == "delete" else "upsert",
            operation=row["operation"],
            key_hash=row["key_hash"],
            uid=row["bridge_uid"],
            data_hash=row["data_hash"],
            rowversion=row["rowversion"],
            batch_uid=row["batch_uid"],
            data=row["data"],
            parent_key_hashes=row["parent_key_hashes"],
            created_at=row["created_at"],
        )
        for row in rows
    ]
    return ChangePage(items=items, next=items[-1].id if items else after)
