"""What the monitoring endpoints report: failed records, parked children, statistics."""

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.monitoring.repository import MonitoringRepository
from syncflow.monitoring.schemas import (
    EntityStats,
    FailedRecord,
    FailedRecordPage,
    PendingChild,
    PendingChildPage,
    Stats,
)


async def list_failed_records(
    conn: AsyncConnection,
    *,
    entity: str | None,
    batch_uid: UUID | None,
    stage: str | None,
    include_resolved: bool,
    page: int,
    page_size: int,
) -> FailedRecordPage:
    """Failed rows, newest first, with their stage, error and raw data."""
    rows, total = await MonitoringRepository(conn).failed_records(
        entity=entity,
        batch_uid=batch_uid,
        stage=stage,
        include_resolved=include_resolved,
        page=page,
        page_size=page_size,
    )
    items = [FailedRecord(entity=r["entity_name"], **r) for r in rows]
    return FailedRecordPage(items=items, total=total, page=page, page_size=page_size)


async def list_pending_children(
    conn: AsyncConnection,
    *,
    entity: str | None,
    parent_entity: str | None,
    page: int,
    page_size: int,
) -> PendingChildPage:
    """Children parked until their parent arrives."""
    rows, total = await MonitoringRepository(conn).pending_children(
        entity=entity, parent_entity=parent_entity, page=page, page_size=page_size
    )
    items = [PendingChild(entity=r["entity_name"], **r) for r in rows]
    return PendingChildPage(items=items, total=total, page=page, page_size=page_size)


async def stats(conn: AsyncConnection) -> Stats:
    """Batches by status, and per entity: last batch, last success, open failures, parked rows."""
    repo = MonitoringRepository(conn)
    latest = {b["entity_name"]: b for b in await repo.latest_batches()}
    states = {s["entity_name"]: s for s in await repo.entity_states()}
    failures = await repo.open_failures_by_entity()
    pending = await repo.pending_by_entity()
    now = datetime.now(UTC)
    names = sorted(set(latest) | set(states) | set(failures) | set(pending))
    entities = []
    for name in names:
        batch = latest.get(name)
        success = states.get(name, {}).get("last_success_at")
        entities.append(
            EntityStats(
                entity=name,
                last_batch_uid=batch["uid"] if batch else None,
                last_status=batch["status"] if batch else None,
                last_counters=batch["counters"] if batch else None,
                last_success_at=success,
                seconds_since_success=(now - success).total_seconds() if success else None,
                open_failures=failures.get(name, 0),
                pending_children=pending.get(name, 0),
            )
        )
    return Stats(batches=await repo.batches_by_status(), entities=entities)
