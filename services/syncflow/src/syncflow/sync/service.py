"""Starting, stopping and reading sync batches. The worker runs them."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.errors import NotFound
from syncflow.domain import RESOLVE_MODE, RETRY_MODE
from syncflow.entities.repository import EntityRepository
from syncflow.monitoring.repository import MonitoringRepository
from syncflow.sync.repository import BatchRepository
from syncflow.sync.schemas import BatchFilter, BatchPage, BatchStatus


async def _require_entity(conn: AsyncConnection, name: str) -> None:
    if not await EntityRepository(conn).exists(name):
        raise NotFound(f"entity {name!r} not found")


async def start_sync(
    conn: AsyncConnection,
    *,
    entity: str,
    mode: str,
    dry_run: bool,
    schedule_uid: UUID | None = None,
    options: dict[str, Any] | None = None,
) -> BatchStatus:
    """Queue a batch for ``entity`` (409 while it has one pending or running)."""
    await _require_entity(conn, entity)
    row = await BatchRepository(conn).create(
        entity=entity, mode=mode, dry_run=dry_run, schedule_uid=schedule_uid, options=options
    )
    return BatchStatus.from_row(row)


async def retry_failed(
    conn: AsyncConnection, *, entity: str, due_only: bool = False
) -> BatchStatus:
    """Queue a batch that re-runs the entity's unresolved failed records (with
    ``due_only``, only those whose automatic retry is due: the periodic job's)."""
    await _require_entity(conn, entity)
    row = await BatchRepository(conn).create(
        entity=entity,
        mode=RETRY_MODE,
        dry_run=False,
        options={"due_only": True} if due_only else None,
    )
    return BatchStatus.from_row(row)


async def retry_records(conn: AsyncConnection, *, record_uids: Sequence[UUID]) -> list[BatchStatus]:
    """Queue one batch per entity that re-runs only the open ones among ``record_uids``
    (409 when an entity has a batch pending or running; none when none is open)."""
    grouped = await MonitoringRepository(conn).open_failures_grouped(record_uids)
    batches = []
    for entity, uids in grouped.items():
        row = await BatchRepository(conn).create(
            entity=entity,
            mode=RETRY_MODE,
            dry_run=False,
            options={"record_uids": [str(uid) for uid in uids]},
        )
        batches.append(BatchStatus.from_row(row))
    return batches


async def retry_parked(conn: AsyncConnection, *, entity: str) -> BatchStatus:
    """Queue a batch that tries the entity's parked children whose retry is due again."""
    await _require_entity(conn, entity)
    row = await BatchRepository(conn).create(entity=entity, mode=RESOLVE_MODE, dry_run=False)
    return BatchStatus.from_row(row)


async def get_status(conn: AsyncConnection, *, batch_uid: UUID) -> BatchStatus:
    """One batch with its counters and progress."""
    row = await BatchRepository(conn).get(batch_uid)
    if row is None:
        raise NotFound(f"batch {batch_uid} not found")
    return BatchStatus.from_row(row)


async def stop(conn: AsyncConnection, *, batch_uid: UUID) -> BatchStatus:
    """Cancel a pending batch, or ask a running one to stop after its current chunk."""
    row = await BatchRepository(conn).request_stop(batch_uid)
    if row is None:
        raise NotFound(f"batch {batch_uid} not found")
    return BatchStatus.from_row(row)


async def history(
    conn: AsyncConnection, *, filters: BatchFilter, page: int, page_size: int
) -> BatchPage:
    """Batches that ``filters`` match, newest first."""
    rows, total = await BatchRepository(conn).history(filters, page=page, page_size=page_size)
    return BatchPage(
        items=[BatchStatus.from_row(r) for r in rows], total=total, page=page, page_size=page_size
    )
