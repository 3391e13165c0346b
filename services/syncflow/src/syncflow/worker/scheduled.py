"""The worker's periodic jobs (run by :mod:`syncflow.worker.scheduler`, or called directly).

Retries are not written here: a job queues a batch (``retry`` for failed records,
``resolve`` for parked children) and a worker runs it like any other, under a lease,
fenced, and never beside another batch of the same entity. An entity that is busy
is simply looked at again at the next poll.
"""

from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.transaction import Database
from bridge_core.errors import Conflict
from syncflow.delivery import service as delivery_service
from syncflow.delivery.metrics import DELIVERY_GAUGES
from syncflow.monitoring import service as monitoring_service
from syncflow.monitoring.metrics import DATABASE_GAUGES
from syncflow.orchestration.state import RunContext
from syncflow.schedules import service as schedules_service
from syncflow.sync import service as sync_service
from syncflow.sync.repository import BatchRepository
from syncflow.worker.repository import MaintenanceRepository


async def enqueue_due_runs(*, ctx: RunContext) -> int:
    """Queue the scheduled runs that are due; return how many were queued."""
    async with ctx.database.transaction() as conn:
        queued = await schedules_service.enqueue_due(conn, now=ctx.now())
    return len(queued)


async def _queue_each(
    ctx: RunContext,
    names: Iterable[str],
    queue: Callable[[AsyncConnection, str], Awaitable[None]],
    *,
    done: str,
) -> int:
    """``queue`` a batch for each entity in a transaction of its own; an entity that is
    busy (``Conflict``) is passed over until the next poll. How many were queued."""
    queued = 0
    for name in names:
        try:
            async with ctx.database.transaction() as conn:
                await queue(conn, name)
        except Conflict:
            continue
        logger.bind(entity=name).info(done)
        queued += 1
    return queued


async def retry_failed_records(*, ctx: RunContext) -> int:
    """Queue a ``retry`` batch for every entity with failed records due for a retry
    (backoff: ``domain.next_retry_delay`` with ``FAILED_RETRY_*``; at most
    ``settings.max_retries``)."""
    async with ctx.database.transaction() as conn:
        names = await MaintenanceRepository(conn).entities_with_due_failures(now=ctx.now())

    async def queue(conn: AsyncConnection, name: str) -> None:
        await sync_service.retry_failed(conn, entity=name, due_only=True)

    return await _queue_each(ctx, names, queue, done="queued a retry of failed records")


async def retry_pending_children(*, ctx: RunContext) -> int:
    """Queue a ``resolve`` batch for every entity with parked children due for a retry
    (backoff: ``domain.next_retry_delay``; after ``settings.pending_max_retries`` a
    child goes to failed records with stage ``resolve``)."""
    async with ctx.database.transaction() as conn:
        names = await MaintenanceRepository(conn).entities_with_due_children(now=ctx.now())

    async def queue(conn: AsyncConnection, name: str) -> None:
        await sync_service.retry_parked(conn, entity=name)

    return await _queue_each(ctx, names, queue, done="queued a retry of parked children")


async def prune_history(*, ctx: RunContext) -> int:
    """Delete finished batches and resolved failed records older than
    ``settings.history_retention_days``; return how many rows went."""
    older_than = ctx.now() - timedelta(days=ctx.settings.history_retention_days)
    async with ctx.database.transaction() as conn:
        batches = await BatchRepository(conn).prune(older_than=older_than)
        failures = await MaintenanceRepository(conn).prune_resolved_failures(older_than=older_than)
    if batches or failures:
        logger.info(
            "pruned {} batches and {} resolved failed records finished before {}",
            batches,
            failures,
            older_than.isoformat(),
        )
    return batches + failures


async def prune_deliveries(*, ctx: RunContext) -> int:
    """Delete deliveries delivered more than ``settings.delivery_retention_days`` ago, and
    outbox events that old which every destination has delivered; how many events went."""
    older_than = ctx.now() - timedelta(days=ctx.settings.delivery_retention_days)
    async with ctx.database.transaction() as conn:
        safe_ids = await delivery_service.prune_deliveries(conn, older_than=older_than)
    async with ctx.target_database.transaction() as target:
        pruned = await delivery_service.prune_outbox(
            target, safe_ids=safe_ids, older_than=older_than
        )
    if pruned:
        logger.info("pruned {} delivered outbox events from before {}", pruned, older_than)
    return pruned


async def refresh_metrics(*, database: Database, target_database: Database) -> None:
    """Take a new snapshot for the database-backed gauges."""
    async with database.transaction() as conn, target_database.transaction() as target:
        DATABASE_GAUGES.snapshot = await monitoring_service.metrics_snapshot(conn)
        DELIVERY_GAUGES.summary = await delivery_service.summary(conn, target)
