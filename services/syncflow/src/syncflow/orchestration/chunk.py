"""A chunk's decisions and its one write.

``ChunkWriter.write_chunk`` is where a chunk is committed: the target rows, the
tracking rows (failed records, parked children, settled keys), the keys seen, the
entity's cursor and the batch's checkpoint, all in ONE transaction pair.
``write_records`` decides what each record does to the target (delta, resolve) and
writes it; it also frees the parked children of the rows just loaded.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pyarrow as pa
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.delivery.loads import OutboxLoads
from syncflow.delivery.repository import OutboxRepository
from syncflow.domain import (
    Counters,
    EntitySpec,
    Record,
    RowFailure,
    Stage,
    next_retry_delay,
)
from syncflow.entities.service import child_specs, load_spec
from syncflow.faults import crash_point
from syncflow.monitoring import metrics
from syncflow.orchestration.lane_chunk import LaneWriter
from syncflow.orchestration.session import BatchSession
from syncflow.orchestration.setup import EntityPlan
from syncflow.orchestration.state import (
    BatchState,
    ChunkOutcome,
    RunContext,
    StopRequested,
)
from syncflow.pipeline import delta, fetch, resolve
from syncflow.pipeline.frames.known import KnownRows
from syncflow.pipeline.frames.target import FrameTargetRepository
from syncflow.pipeline.key_index import KeyIndexRepository
from syncflow.pipeline.load import TargetRepository
from syncflow.pipeline.prepare import EntityPipeline, PreparedPage
from syncflow.pipeline.track import TrackingRepository
from syncflow.pipeline.track_parked import ParkedRepository

# parked children are freed down this many generations (never around a cycle of refs)
MAX_PARENT_DEPTH = 4


class ChunkWriter:
    """Decides and writes the chunks of one batch."""

    def __init__(
        self, state: BatchState, ctx: RunContext, session: BatchSession, plan: EntityPlan
    ) -> None:
        self.state = state
        self.ctx = ctx
        self.session = session
        self.plan = plan
        # a whole-source read's target rows as it began (pipeline/frames/known.py),
        # read ahead as the read starts (``reading_known_rows``) or by the first chunk
        # that sorts keys against the target (``known_rows``)
        self.known: KnownRows | None = None
        self._known_read = False
        self._known_ahead: asyncio.Task[KnownRows | None] | None = None
        # the entity's key index was there in one of the batch's chunks (see key_index)
        self._key_index_seen = False

    async def write_chunk(
        self,
        raws: list[dict[str, Any]] | pa.Table,
        prepared: PreparedPage,
        *,
        retried: Sequence[dict[str, Any]] = (),
        before: dict[str, float],
    ) -> None:
        """Commit one chunk (``raws``: its rows as fetched, JSON rows or an Arrow page):
        target rows, tracking rows, seen keys, cursor and checkpoint in one transaction
        (``retried``: the failed records these rows came from)."""
        state, spec = self.state, self.plan.spec
        records, failures, lane, payloads = prepared
        fetched = raws.num_rows if isinstance(raws, pa.Table) else len(raws)
        outcome = ChunkOutcome(counters=Counters(fetched=fetched))
        # a retried row that fails again carries its retry count on
        retries = {
            id(raw): int(row["retry_count"]) + 1
            for raw, row in zip(raws if retried else (), retried, strict=False)
        }
        state.stage = Stage.LOAD
        async with self.session.transactions() as (conn, target):
            if retried:
                await TrackingRepository(conn).close_failures([r["uid"] for r in retried])
            rest = (
                []
                if lane is None
                else await LaneWriter(self).write(conn, target, lane, outcome, payloads)
            )
            # after the lane (its first chunk may read the known rows), whose own rows
            # claimed theirs as they were vouched
            if self.known is not None:
                self.known.claim(r.key_hash for r in records)
            records = [*records, *rest]
            await self.write_records(conn, target, spec, records, failures, outcome, retries)
            crash_point("track")
            start = time.perf_counter()
            if self.plan.detect_deletes:
                await TargetRepository(target).mark_seen(state.uid, outcome.seen)
                unkeyed = state.checkpoint.get("unkeyed", 0) + outcome.unkeyed_failures
                state.checkpoint["unkeyed"] = unkeyed
            cursor = None if retried else fetch.last_rowversion(spec, raws)
            if cursor is not None and not state.dry_run:
                state.checkpoint["cursor"] = cursor
                await TrackingRepository(conn).advance_cursor(
                    entity=state.entity, cursor=cursor, batch_uid=state.uid
                )
            state.counters.add(outcome.counters)
            await self.session.save(conn)
            state.seconds[Stage.TRACK] += time.perf_counter() - start
            crash_point("commit")
        self.observe(outcome, before)
        if state.stop_requested:
            raise StopRequested

    async def key_index(self, target: AsyncConnection, spec: EntitySpec) -> None:
        """The key index of ``spec``'s target, built first if a first load deferred it.
        For the batch's own entity it is looked for once: only a first load drops it,
        into an empty table, as its batch starts, and this batch holds the entity."""
        own = spec is self.plan.spec
        if not (own and self._key_index_seen):
            await KeyIndexRepository(target).ensure(spec)
            self._key_index_seen = self._key_index_seen or own

    @asynccontextmanager
    async def reading_known_rows(self) -> AsyncIterator[None]:
        """While the read runs: a whole-source read of a target that holds rows reads its
        known rows on a connection of its own, beside the first page's fetch and stages
        (0.4 s of `orders`' 1.5M rows that the first chunk waited for). Left unread when
        the read ends first."""
        if self.plan.detect_deletes and not self.state.checkpoint.get("fresh_target"):
            self._known_ahead = asyncio.create_task(self._read_known_ahead())
        try:
            yield
        finally:
            if self._known_ahead is not None:
                self._known_ahead.cancel()  # nothing when it is done
                # its outcome retrieved: a failure nobody waited for is not an error
                await asyncio.gather(self._known_ahead, return_exceptions=True)

    async def _read_known_ahead(self) -> KnownRows | None:
        async with self.ctx.target_database.transaction() as target:
            return await self._read_known(FrameTargetRepository(target))

    async def known_rows(self, rows: FrameTargetRepository) -> KnownRows | None:
        """The batch's known rows: those read ahead, else read by its first chunk that
        asks; ``None`` unless the batch reads the whole source (or with a known-rows
        limit of 0)."""
        if not self._known_read:
            self._known_read = True
            if self._known_ahead is not None:
                self.known = await self._known_ahead
            elif self.plan.detect_deletes:
                self.known = await self._read_known(rows)
        return self.known

    async def _read_known(self, rows: FrameTargetRepository) -> KnownRows | None:
        start = time.perf_counter()
        known = await rows.known_rows(
            self.plan.spec, batch_uid=self.state.uid, limit=self.ctx.settings.known_rows_limit
        )
        logger.debug(
            "{}: {} known target rows read in {:.2f} s",
            self.state.entity,
            "no" if known is None else len(known),
            time.perf_counter() - start,
        )
        return known

    def observe(self, outcome: ChunkOutcome, before: dict[str, float]) -> None:
        """Metrics of a committed chunk."""
        metrics.count_rows(self.state.entity, outcome.counters)
        metrics.observe_stages(self.state.entity, before, self.state.seconds)

    async def write_records(
        self,
        conn: AsyncConnection,
        target: AsyncConnection,
        spec: EntitySpec,
        records: list[Record],
        failures: list[RowFailure],
        outcome: ChunkOutcome,
        retries: Mapping[int, int] | None = None,
        depth: int = 0,
    ) -> None:
        """Delta, resolve, load and track one entity's prepared records (``depth`` counts
        generations of freed children below the batch's own entity).

        While the batch's own target was empty when it started (a first load), the lookup
        of existing keys is skipped and the rows are COPYed straight in; should a key be
        there after all (a key repeated across pages, children freed by a parent batch),
        the COPY is undone and the chunk decided again with the lookup, as every later
        chunk is.
        """
        state = self.state
        rows = TargetRepository(target)
        fresh = (
            spec is self.plan.spec
            and bool(state.checkpoint.get("fresh_target"))
            and not state.dry_run
        )
        changes, resolution = await self.decide(conn, target, spec, records, lookup=not fresh)
        if not state.dry_run:
            start = time.perf_counter()
            now = datetime.now(UTC)
            if fresh and not await rows.insert_new_rows(
                spec, resolution.ready, batch_uid=state.uid, now=now
            ):
                state.checkpoint["fresh_target"] = fresh = False
                changes, resolution = await self.decide(conn, target, spec, records, lookup=True)
            if not fresh:
                all_new = not changes.updates and not changes.replaced
                if not all_new and self.plan.records_changes_of(spec.name):
                    # an earlier load's events name these rows as they were before
                    await OutboxLoads(target).expand(spec.name, writer=True)
                await rows.write_rows(
                    spec,
                    resolution.ready,
                    batch_uid=state.uid,
                    now=now,
                    all_new=all_new,
                )
            state.seconds[Stage.LOAD] += time.perf_counter() - start
            crash_point("load" if depth == 0 else "resolve")
        failures = [*failures, *resolution.failures]
        ready = {id(r) for r in resolution.ready}
        counters = outcome.counters
        counters.inserted += sum(1 for r in changes.inserts if id(r) in ready)
        counters.updated += sum(1 for r in changes.updates if id(r) in ready)
        counters.unchanged += len(changes.unchanged)
        counters.duplicate += len(changes.duplicates) + sum(
            1 for r in changes.replaced if id(r) in ready
        )
        counters.pending += len(resolution.parked)
        outcome.parked.extend(resolution.parked)
        counters.failed += len(failures)
        outcome.seen.extend(r.key_hash for r in records)
        outcome.seen.extend(f.key_hash for f in failures if f.key_hash)
        outcome.unkeyed_failures += sum(1 for f in failures if not f.key_hash)
        if state.dry_run:
            return

        inserted = [r for r in changes.inserts if id(r) in ready]
        updated = [r for r in (*changes.updates, *changes.replaced) if id(r) in ready]
        if self.plan.records_changes_of(spec.name) and (inserted or updated):
            # the events find their rows by key: a first load that deferred the key
            # index builds it now (the column lane's events need none)
            await self.key_index(target, spec)
            await OutboxRepository(target).record_changes(
                spec, inserted=inserted, updated=updated, batch_uid=state.uid
            )
        tracking = TrackingRepository(conn)
        settled = [r.key_hash for r in resolution.ready] + [r.key_hash for r in changes.unchanged]
        await tracking.settle(entity=spec.name, key_hashes=settled)
        await tracking.record_failures(
            entity=spec.name,
            batch_uid=state.uid,
            failures=failures,
            now=self.ctx.now(),
            max_retries=self.ctx.settings.max_retries,
            retries=retries,
        )
        await ParkedRepository(conn).park_children(
            entity=spec.name,
            batch_uid=state.uid,
            parked=[
                (p.record, p.parent_entity, p.parent_key_hash, p.parent_key)
                for p in resolution.parked
            ],
            next_retry_at=self.ctx.now() + next_retry_delay(0),
        )
        if resolution.ready and depth < MAX_PARENT_DEPTH:
            loaded = [r.key_hash for r in resolution.ready]
            counters.resolved += await self.free_children(conn, target, spec.name, loaded, depth)

    async def decide(
        self,
        conn: AsyncConnection,
        target: AsyncConnection,
        spec: EntitySpec,
        records: list[Record],
        *,
        lookup: bool,
    ) -> tuple[delta.DeltaSet, resolve.Resolution]:
        """What each record does to the target (``lookup=False``: the target holds none of
        the keys), and which of the rows to write have their parents."""
        seconds = self.state.seconds
        start = time.perf_counter()
        existing = {}
        if lookup and records:  # a first load may have deferred the key index: lookups need it
            await self.key_index(target, spec)
            keys = [r.key_hash for r in records]
            existing = await TargetRepository(target).lookup_existing(spec, keys)
        changes = delta.classify(records, existing, self.state.uid)
        seconds[Stage.DELTA] += time.perf_counter() - start
        start = time.perf_counter()
        to_write = changes.to_write()
        found = await self.parent_uids(conn, target, spec, to_write)
        resolution = resolve.resolve(spec, to_write, found)
        seconds[Stage.RESOLVE] += time.perf_counter() - start
        return changes, resolution

    async def parent_uids(
        self,
        conn: AsyncConnection,
        target: AsyncConnection,
        spec: EntitySpec,
        records: Sequence[Record],
    ) -> dict[tuple[str, str], UUID]:
        """``(parent entity, parent key hash) -> _bridge_uid`` of the parents the records
        name; a freed child's parents are read in the chunk's own transaction."""
        found: dict[tuple[str, str], UUID] = {}
        for parent_entity, hashes in resolve.parent_lookups(spec, records).items():
            parent = self.plan.parents.get(parent_entity) if spec is self.plan.spec else None
            if parent is None:
                parent = await load_spec(
                    conn, parent_entity, source_timezone=self.ctx.settings.source_timezone
                )
            uids = await TargetRepository(target).lookup_parent_uids(parent, sorted(hashes))
            found.update({(parent_entity, key): uid for key, uid in uids.items()})
        return found

    async def children_of(self, conn: AsyncConnection, parent: str) -> list[EntityPipeline]:
        children = self.plan.children
        if parent not in children:
            specs = await child_specs(
                conn, parent, source_timezone=self.ctx.settings.source_timezone
            )
            children[parent] = [EntityPipeline(spec) for spec in specs]
        return children[parent]

    async def free_children(
        self,
        conn: AsyncConnection,
        target: AsyncConnection,
        parent: str,
        parent_keys: Sequence[str],
        depth: int,
    ) -> int:
        """Load the parked children of the ``parent`` rows just loaded, and in turn their
        own parked children (grandchildren); return how many went in."""
        resolved = 0
        parked = ParkedRepository(conn)
        for pipeline in await self.children_of(conn, parent):
            waiting = await parked.children_waiting_for(
                entity=pipeline.spec.name, parent_entity=parent, parent_key_hashes=parent_keys
            )
            if not waiting:
                continue
            await parked.forget_parked([w["uid"] for w in waiting])
            records, failures = pipeline.prepare(
                [w["row_data"]["raw"] for w in waiting], self.state.seconds
            )
            child = ChunkOutcome()
            await self.write_records(
                conn, target, pipeline.spec, records, failures, child, depth=depth + 1
            )
            counted = child.counters
            resolved += counted.inserted + counted.updated + counted.unchanged + counted.resolved
        return resolved
