"""A batch's transactions and the progress it writes with each of them."""

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.orchestration.pacing import BatchPacing
from syncflow.orchestration.state import BatchState, LeaseLost, RunContext
from syncflow.pipeline.track import TrackingRepository
from syncflow.sync.repository import BatchRepository


class BatchSession:
    """Opens the (own, target) transaction pair of a chunk, fenced by the lease, and
    writes the batch's progress into the open one."""

    def __init__(self, state: BatchState, ctx: RunContext, pacing: BatchPacing) -> None:
        self.state = state
        self.ctx = ctx
        self.pacing = pacing

    @asynccontextmanager
    async def transactions(self) -> AsyncIterator[tuple[AsyncConnection, AsyncConnection]]:
        """(own, target) connections; one transaction when the target is our own database.

        With two databases the target commits first: a crash between the commits replays
        the chunk, which the merge makes harmless (the rows come out unchanged).
        """
        async with AsyncExitStack() as stack:
            conn = await stack.enter_async_context(self.ctx.database.transaction())
            if self.ctx.target_database is self.ctx.database:
                target = conn
            else:
                target = await stack.enter_async_context(self.ctx.target_database.transaction())
            held, stop = await BatchRepository(conn).holds_lease(
                self.state.uid, worker_id=self.ctx.worker_id
            )
            if not held:
                raise LeaseLost(
                    f"batch {self.state.uid} is no longer leased to {self.ctx.worker_id}"
                )
            self.state.stop_requested = stop
            yield conn, target

    def progress(self) -> dict[str, Any]:
        """Rows read, of how many, how fast, and when the batch should be done (for a
        paced batch: inside its windows, a daily portion at a time)."""
        state = self.state
        total = state.checkpoint.get("total")
        fetched = state.counters.fetched
        elapsed = time.monotonic() - state.started
        read_here = fetched - state.fetched_before
        rate = read_here / elapsed if elapsed > 0 and read_here > 0 else None
        progress: dict[str, Any] = {
            "rows": fetched,
            "total_rows": total,
            "rows_per_second": round(rate, 1) if rate else None,
        }
        if total:
            progress["percent"] = round(min(fetched / total, 1.0) * 100, 1)
            finish = self.pacing.estimate_finish(
                now=self.ctx.now(), remaining_rows=max(total - fetched, 0), rows_per_second=rate
            )
            progress["estimated_finish"] = finish.isoformat() if finish else None
        progress.update(self.pacing.progress())
        return progress

    async def save(self, conn: AsyncConnection, progress: dict[str, Any] | None = None) -> None:
        """The batch's counters, checkpoint, progress and stage seconds, in ``conn``'s
        transaction."""
        state = self.state
        await TrackingRepository(conn).save_progress(
            batch_uid=state.uid,
            counters=state.counters,
            checkpoint=state.checkpoint,
            progress=progress if progress is not None else self.progress(),
            stage_seconds=state.seconds,
            cursor_end=state.checkpoint.get("cursor"),
            stop_at=state.stop_at,
        )
