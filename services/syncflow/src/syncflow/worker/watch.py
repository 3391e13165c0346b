"""A batch run here and watched, for the command line: start it, run it in this process
(unless a worker claims it first), report its progress until it ends."""

import asyncio
from collections.abc import Callable
from contextlib import suppress
from uuid import UUID

from bridge_core.db.transaction import Database
from syncflow.orchestration.state import RunContext
from syncflow.settings import Settings
from syncflow.sync import service
from syncflow.sync.repository import BatchRepository
from syncflow.sync.schemas import BatchStatus
from syncflow.worker.executor import BatchExecutor, new_worker_id

FINISHED = ("completed", "failed", "cancelled")


async def _status(database: Database, uid: UUID) -> BatchStatus:
    async with database.transaction() as conn:
        return await service.get_status(conn, batch_uid=uid)


async def sync_and_watch(
    *,
    database: Database,
    target_database: Database,
    settings: Settings,
    entity: str,
    mode: str,
    dry_run: bool,
    on_progress: Callable[[BatchStatus], None],
    poll_seconds: float = 0.5,
) -> BatchStatus:
    """Queue a batch and run it in this process (or, if a worker claims it first, watch it)."""
    async with database.transaction() as conn:
        batch = await service.start_sync(conn, entity=entity, mode=mode, dry_run=dry_run)
    context = RunContext(
        database=database,
        target_database=target_database,
        settings=settings,
        worker_id=new_worker_id(),
    )
    async with database.transaction() as conn:
        claimed = await BatchRepository(conn).claim(
            batch.batch_uid, worker_id=context.worker_id, lease_seconds=settings.lease_seconds
        )
    runner = asyncio.create_task(BatchExecutor(context).run_claimed(claimed)) if claimed else None
    try:
        while True:
            status = await _status(database, batch.batch_uid)
            on_progress(status)
            if status.status in FINISHED:
                return status
            if runner is not None and runner.done():
                runner.result()  # surfaces an unexpected crash of the runner itself
            await asyncio.sleep(poll_seconds)
    finally:
        if runner is not None and not runner.done():
            # interrupted (Ctrl-C): the open chunk rolls back; hand the batch back at once
            runner.cancel()
            with suppress(asyncio.CancelledError):
                await runner
            async with database.transaction() as conn:
                await BatchRepository(conn).release_leases(worker_id=context.worker_id)
