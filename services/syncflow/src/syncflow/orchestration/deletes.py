"""After a complete read: delete what the source no longer has, within policy."""

from datetime import UTC, datetime

from loguru import logger

from syncflow.delivery.repository import OutboxRepository
from syncflow.domain import Counters, Stage
from syncflow.faults import crash_point
from syncflow.monitoring import metrics
from syncflow.orchestration.session import BatchSession
from syncflow.orchestration.setup import EntityPlan
from syncflow.orchestration.state import BatchState
from syncflow.pipeline import delta
from syncflow.pipeline.load import TargetRepository


async def apply_deletes(state: BatchState, session: BatchSession, plan: EntityPlan) -> None:
    """Count the target's rows this batch did not see, apply the entity's delete policy,
    and forget the keys seen; the batch's phase becomes ``done`` in the same transaction."""
    state.stage = Stage.LOAD
    spec = plan.spec
    deleted_before = state.counters.deleted
    async with session.transactions() as (conn, target):
        rows = TargetRepository(target)
        candidates, live = await rows.count_delete_candidates(spec, state.uid)
        decision = delta.decide_deletes(
            candidates,
            live,
            spec.delete_policy,
            read_ok=True,
            rows_read=state.counters.fetched,
        )
        unkeyed = int(state.checkpoint.get("unkeyed", 0))
        if decision.apply and unkeyed:
            decision = delta.DeleteDecision(
                apply=False,
                warning=f"deletes skipped: {unkeyed} failed rows have unreadable business keys",
            )
        if decision.warning:
            state.warnings.append(decision.warning)
            logger.warning(decision.warning)
        if decision.apply:
            if state.dry_run:
                state.counters.deleted += candidates
            else:
                if plan.records_changes_of(spec.name):
                    await OutboxRepository(target).record_deletes(spec, batch_uid=state.uid)
                state.counters.deleted += await rows.apply_deletes(
                    spec,
                    batch_uid=state.uid,
                    mode=spec.delete_policy.mode,
                    now=datetime.now(UTC),
                )
        await rows.forget_seen(state.uid)
        state.checkpoint["phase"] = "done"
        await session.save(conn)
        crash_point("deletes")
    metrics.count_rows(state.entity, Counters(deleted=state.counters.deleted - deleted_before))
