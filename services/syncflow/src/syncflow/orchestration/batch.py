"""A batch from claim to its end: the modes, the outcomes, the pauses.

Besides reads (``incremental``, ``full``) a batch may re-run failed records
(``retry``) or try parked children whose retry is due (``resolve``). Deletes are
decided after a complete read.
"""

from datetime import datetime
from typing import Any, NoReturn

from loguru import logger

from bridge_core.errors import BridgeError
from bridge_core.http.client import ServiceClientError
from syncflow.domain import RESOLVE_MODE, RETRY_MODE
from syncflow.monitoring import metrics
from syncflow.orchestration.chunk import ChunkWriter
from syncflow.orchestration.deletes import apply_deletes
from syncflow.orchestration.pacing import BatchPacing
from syncflow.orchestration.parked import SecondChances
from syncflow.orchestration.reading import PageReader
from syncflow.orchestration.session import BatchSession
from syncflow.orchestration.setup import EntityPlan, build_deferred_key_index, plan_batch
from syncflow.orchestration.state import (
    BatchState,
    LeaseLost,
    Paused,
    RunContext,
    StopRequested,
)
from syncflow.pipeline.load import TargetRepository
from syncflow.pipeline.track import TrackingRepository
from syncflow.sync.repository import BatchRepository


class BatchRun:
    """One batch from claim to its end (completed, failed, cancelled) or a lost lease."""

    def __init__(self, batch: dict[str, Any], ctx: RunContext) -> None:
        self.ctx = ctx
        self.state = BatchState(batch)
        # known once the entity is loaded (``None`` while setting up)
        self.plan: EntityPlan | None = None
        self.session: BatchSession | None = None

    async def run(self) -> None:
        """Run the batch to its end or its next pause; every outcome is written to its row."""
        state = self.state
        try:
            pacing = BatchPacing(state)
            self.session = session = BatchSession(state, self.ctx, pacing)
            self.plan = plan = await plan_batch(state, self.ctx, session)
            writer = ChunkWriter(state, self.ctx, session, plan)
            async with plan.client:
                if state.mode == RETRY_MODE:
                    await SecondChances(state, self.ctx, writer).retry_failed()
                elif state.mode == RESOLVE_MODE:
                    await SecondChances(state, self.ctx, writer).resolve_parked()
                elif state.checkpoint.get("phase", "read") == "read":
                    pace = PaceCheck(state, self.ctx, session)
                    async with writer.reading_known_rows():
                        await PageReader(state, plan, writer, pace).read()
                    await build_deferred_key_index(state, session, plan.spec)
            if state.checkpoint.get("phase") == "deletes":
                await apply_deletes(state, session, plan)
            await self._finish("completed")
        except Paused as pause:
            logger.info("batch {}: {}", state.uid, pause)
        except StopRequested:
            logger.info("batch stopped on request after {} rows", state.counters.fetched)
            await self._finish("cancelled")
        except LeaseLost as exc:
            logger.warning("{}; leaving the batch to its new owner", exc)
        except (BridgeError, ServiceClientError, ValueError) as exc:
            logger.bind(stage=state.stage).error("batch failed: {}", exc)
            await self._finish("failed", error=str(exc))
        except Exception as exc:
            logger.bind(stage=state.stage).opt(exception=exc).error("batch failed unexpectedly")
            await self._finish("failed", error=f"{type(exc).__name__}: {exc}")

    async def _finish(self, status: str, error: str | None = None) -> None:
        state = self.state
        if status != "completed" and self.plan is not None and self.session is not None:
            await self._leave_key_index(self.session, self.plan)
        async with self.ctx.database.transaction() as conn:
            # a batch that ends before its deletes will not resume: its seen keys go
            if status != "completed" and self.plan is not None and self.plan.detect_deletes:
                async with self.ctx.target_database.transaction() as target:
                    await TargetRepository(target).forget_seen(state.uid)
            finished = await BatchRepository(conn).finish(
                state.uid,
                worker_id=self.ctx.worker_id,
                status=status,
                error=error,
                warnings=state.warnings,
            )
            if finished and status == "completed" and not state.dry_run:
                await TrackingRepository(conn).mark_success(
                    entity=state.entity, batch_uid=state.uid
                )
        if finished:
            metrics.BATCHES_FINISHED.labels(state.entity, status).inc()
        logger.info(
            "batch {} {}: {}",
            state.uid,
            status,
            " ".join(f"{k}={v}" for k, v in state.counters.as_dict().items()),
        )

    async def _leave_key_index(self, session: BatchSession, plan: EntityPlan) -> None:
        """A first load that ends early still builds the key index it deferred; should
        that fail too, the next writer of the table builds it (pipeline/key_index.py)."""
        try:
            await build_deferred_key_index(self.state, session, plan.spec)
        except Exception as exc:
            logger.opt(exception=exc).warning(
                "batch {}: the key index of {} is left to the next writer",
                self.state.uid,
                plan.spec.name,
            )


class PaceCheck:
    """Between chunks: pause the batch when its pacing says so."""

    def __init__(self, state: BatchState, ctx: RunContext, session: BatchSession) -> None:
        self.state = state
        self.ctx = ctx
        self.session = session

    async def __call__(self) -> None:
        due = self.session.pacing.pause_due(self.ctx.now())
        if due is not None:
            await self.pause(*due)

    async def pause(self, until: datetime, reason: str) -> NoReturn:
        """Commit the progress and hand the batch back as pending until ``until``."""
        async with self.session.transactions() as (conn, _):
            if self.state.stop_requested:
                raise StopRequested
            self.state.stop_at = None
            progress = self.session.progress()
            progress["paused_until"] = until.isoformat()
            await self.session.save(conn, progress=progress)
            await BatchRepository(conn).pause(self.state.uid, until=until)
        raise Paused(until, reason)


async def run_batch(batch: dict[str, Any], *, ctx: RunContext) -> None:
    """Run one claimed batch to its end."""
    await BatchRun(batch, ctx).run()
