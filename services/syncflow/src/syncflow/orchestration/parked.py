"""Second chances: failed records re-run (``retry`` batches) and parked children whose
retry is due tried again (``resolve`` batches)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.domain import RowFailure, Stage, next_retry_delay
from syncflow.orchestration.chunk import ChunkWriter
from syncflow.orchestration.state import BatchState, ChunkOutcome, RunContext, StopRequested
from syncflow.pipeline import resolve
from syncflow.pipeline.prepare import PreparedPage
from syncflow.pipeline.track import TrackingRepository
from syncflow.pipeline.track_parked import ParkedRepository


class SecondChances:
    """The loops of a ``retry`` and a ``resolve`` batch, a chunk at a time."""

    def __init__(self, state: BatchState, ctx: RunContext, writer: ChunkWriter) -> None:
        self.state = state
        self.ctx = ctx
        self.writer = writer

    async def retry_failed(self) -> None:
        """Re-run the entity's open failed records through the pipeline, oldest first
        (a periodic retry takes only those whose retry is due, an operator's retry of
        selected records only those)."""
        state = self.state
        due_at = self.ctx.now() if state.options.get("due_only") else None
        selected = state.options.get("record_uids")
        uids = [UUID(uid) for uid in selected] if selected is not None else None
        while True:
            async with self.ctx.database.transaction() as conn:
                rows = await TrackingRepository(conn).open_failures(
                    entity=state.entity,
                    created_before=state.created_at,
                    limit=self.ctx.settings.chunk_rows,
                    due_at=due_at,
                    uids=uids,
                )
            if not rows:
                return
            raws = [r["raw_data"] for r in rows]
            before = dict(state.seconds)
            state.stage = Stage.NORMALIZE
            prepared = PreparedPage(*self.writer.plan.pipeline.prepare(raws, state.seconds))
            await self.writer.write_chunk(raws, prepared, retried=rows, before=before)

    async def resolve_parked(self) -> None:
        """Try the entity's parked children whose retry is due again, oldest first."""
        due_at = self.ctx.now()
        while True:
            async with self.ctx.database.transaction() as conn:
                rows = await ParkedRepository(conn).due_parked(
                    entity=self.state.entity, due_at=due_at, limit=self.ctx.settings.chunk_rows
                )
            if not rows or not await self.resolve_chunk(rows):
                return

    async def resolve_chunk(self, rows: list[dict[str, Any]]) -> bool:
        """One chunk of parked children through the pipeline; ``False`` when all of them
        were taken by a parent's batch meanwhile (they are locked or gone)."""
        state, writer = self.state, self.writer
        before = dict(state.seconds)
        outcome = ChunkOutcome()
        async with writer.session.transactions() as (conn, target):
            parked = ParkedRepository(conn)
            mine = set(await parked.lock_parked([r["uid"] for r in rows]))
            rows = [r for r in rows if r["uid"] in mine]
            if not rows:
                return False
            await parked.forget_parked([r["uid"] for r in rows])
            state.stage = Stage.NORMALIZE
            raws = [r["row_data"]["raw"] for r in rows]
            records, failures = writer.plan.pipeline.prepare(raws, state.seconds)
            outcome.counters.fetched = len(raws)
            state.stage = Stage.RESOLVE
            await writer.write_records(conn, target, writer.plan.spec, records, failures, outcome)
            await self.retry_later(conn, rows, outcome)
            counters = outcome.counters
            counters.resolved += counters.inserted + counters.updated + counters.unchanged
            state.counters.add(counters)
            await writer.session.save(conn)
        writer.observe(outcome, before)
        if state.stop_requested:
            raise StopRequested
        return True

    async def retry_later(
        self, conn: AsyncConnection, rows: list[dict[str, Any]], outcome: ChunkOutcome
    ) -> None:
        """Children parked again count an attempt and wait longer; after
        ``pending_max_retries`` attempts they become failed records (stage ``resolve``)."""
        entity = self.state.entity
        attempts = {r["key_hash"]: int(r["attempts"]) + 1 for r in rows}
        now = self.ctx.now()
        later: dict[str, tuple[int, datetime]] = {}
        given_up: list[RowFailure] = []
        for parked in outcome.parked:
            key = parked.record.key_hash
            tries = attempts.get(key, 1)
            if resolve.give_up(tries, self.ctx.settings.pending_max_retries):
                given_up.append(
                    RowFailure(
                        stage=Stage.RESOLVE,
                        error=f"parent {parked.parent_entity} {parked.parent_key} "
                        f"still not loaded after {tries} attempts",
                        raw=parked.record.raw,
                        key_hash=key,
                    )
                )
            else:
                later[key] = (tries, now + next_retry_delay(tries))
        await ParkedRepository(conn).postpone_parked(entity=entity, retries=later)
        if given_up:
            await ParkedRepository(conn).unpark_children(
                entity=entity, key_hashes=[f.key_hash for f in given_up if f.key_hash]
            )
            # they had their retries as parked children; an operator's retry-failed remains
            await TrackingRepository(conn).record_failures(
                entity=entity,
                batch_uid=self.state.uid,
                failures=given_up,
                now=now,
                max_retries=self.ctx.settings.max_retries,
                retry_automatically=False,
            )
            outcome.counters.pending -= len(given_up)
            outcome.counters.failed += len(given_up)
