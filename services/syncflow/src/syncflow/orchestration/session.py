"""A batch's transactions and the progress it writes with each of them."""

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.errors import ServiceUnavailable
from syncflow.orchestration.pacing import BatchPacing
from syncflow.orchestration.state import BatchState, LeaseLost, RunContext
from syncflow.pipeline.track import TrackingRepository
from syncflow.sync.repository import BatchRepository


class TargetDatabaseLost(ServiceUnavailable):
    """The target database went away while a chunk was being written (the batch fails)."""


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
        the chunk, which the merge makes harmless (the rows come out unchanged). A target
        database lost on the way (restarted, unreachable) is :class:`TargetDatabaseLost`:
        the chunk is not recorded on our side, so the next sync resumes after the last
        chunk that was (one the target kept anyway merges again unchanged, as above).
        """
        separate = self.ctx.target_database is not self.ctx.database
        opening_target = False
        target_socket: Any = None  # the target's driver connection, once open
        try:
            async with AsyncExitStack() as stack:
                conn = await stack.enter_async_context(self.ctx.database.transaction())
                target = conn
                if separate:
                    opening_target = True
                    target = await stack.enter_async_context(self.ctx.target_database.transaction())
                    target_socket = (await target.get_raw_connection()).driver_connection
                held, stop = await BatchRepository(conn).holds_lease(
                    self.state.uid, worker_id=self.ctx.worker_id
                )
                if not held:
                    raise LeaseLost(
                        f"batch {self.state.uid} is no longer leased to {self.ctx.worker_id}"
                    )
                self.state.stop_requested = stop
                yield conn, target
        except (OSError, DBAPIError) as exc:
            # which side failed shows in its socket: a statement, the commit or the opening
            if opening_target and (target_socket is None or target_socket.is_closed()):
                reason = exc.orig if isinstance(exc, DBAPIError) else exc
                raise TargetDatabaseLost(
                    f"the target database was lost while a chunk was written ({reason}): "
                    "the batch stops, and the next sync resumes after its last recorded chunk"
                ) from exc
            raise

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
