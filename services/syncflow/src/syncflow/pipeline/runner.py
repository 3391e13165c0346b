"""The runner: the one module that imports every stage and runs a batch through them.

A batch reads its entity's API page by page. Each page goes through the pure
stages (normalize, validate, map, identity, delta, resolve) and is then loaded
and tracked in ONE transaction that also stores the batch's checkpoint and the
entity's cursor, so a crash or a kill at any point loses nothing and duplicates
nothing: a resumed batch starts after the last committed page. Deletes are
decided after a complete read. The batch row is locked in every chunk
transaction and must still carry this worker's lease, which fences off a worker
that lost its lease.

A scheduled batch may be paced (``sync_batches.options``): between chunks it
checks its window and its daily portion (``days_to_complete``) on the context's
clock, and when either is used up it goes back to ``pending`` with ``not_before``
set to the next opening, its progress committed. It still blocks a second batch of
its entity meanwhile, and continues from its checkpoint when claimed again.

Besides reads (``incremental``, ``full``) a batch may re-run failed records
(``retry``) or try parked children whose retry is due (``resolve``).
"""

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn
from uuid import UUID

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.transaction import Database
from bridge_core.errors import BridgeError
from bridge_core.http.client import ServiceClientError
from syncflow.apismith_client import ApiSmithClient
from syncflow.clock import Clock, utc_now
from syncflow.delivery import outbox
from syncflow.entities.service import child_specs, load_spec
from syncflow.monitoring import metrics
from syncflow.pipeline import delta, fetch, load, resolve, track
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.pipeline.types import (
    RESOLVE_MODE,
    RETRY_MODE,
    Counters,
    DeltaStrategy,
    EntitySpec,
    Record,
    RowFailure,
    Stage,
    SyncMode,
)
from syncflow.schedules.windows import Pacing, estimate_finish
from syncflow.settings import Settings
from syncflow.sources.service import client_for
from syncflow.sync.repository import BatchRepository

# a chunk after the pure stages: its records and the rows that failed on the way
Prepared = tuple[list[Record], list[RowFailure]]
# ... prepared in a worker thread, with the seconds each stage took there
Timed = tuple[Prepared, dict[str, float]]

# parked children are freed down this many generations (never around a cycle of refs)
MAX_PARENT_DEPTH = 4


class LeaseLost(Exception):
    """Another worker owns the batch now; this one must stop without writing."""


class StopRequested(Exception):
    """An operator asked the batch to stop; it ends after its last committed chunk."""


class Paused(Exception):
    """The batch's window closed or its daily portion is read: it is pending again,
    its progress committed, until ``until``."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(f"{reason}; paused until {until.isoformat()}")
        self.until = until


@dataclass
class RunContext:
    """What a batch runs with: databases, settings, who runs it, and the clock that says
    when windows close and retries are due (tests pass a simulated one)."""

    database: Database
    target_database: Database
    settings: Settings
    worker_id: str
    now: Clock = utc_now


@dataclass
class ChunkOutcome:
    counters: Counters = field(default_factory=Counters)
    seen: list[str] = field(default_factory=list)
    unkeyed_failures: int = 0
    parked: list[resolve.ParkedChild] = field(default_factory=list)


class BatchRun:
    """One batch from claim to its end (completed, failed, cancelled) or a lost lease."""

    def __init__(self, batch: dict[str, Any], ctx: RunContext) -> None:
        self.batch = batch
        self.ctx = ctx
        self.uid: UUID = batch["uid"]
        self.entity: str = batch["entity_name"]
        self.mode: str = batch["mode"]
        self.dry_run: bool = batch["dry_run"]
        self.counters = Counters.from_dict(batch["counters"])
        self.checkpoint: dict[str, Any] = dict(batch["checkpoint"] or {})
        self.seconds: dict[str, float] = defaultdict(float, batch["stage_seconds"] or {})
        self.warnings: list[str] = list(batch["warnings"] or [])
        self.options: dict[str, Any] = dict(batch.get("options") or {})
        self.pacing: Pacing | None = None
        self.stop_at: datetime | None = None
        self.stage: str = "setup"
        self.started = time.monotonic()
        self.fetched_before = self.counters.fetched

    # -- transactions ---------------------------------------------------------------

    @asynccontextmanager
    async def _transactions(self) -> AsyncIterator[tuple[AsyncConnection, AsyncConnection]]:
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
                self.uid, worker_id=self.ctx.worker_id
            )
            if not held:
                raise LeaseLost(f"batch {self.uid} is no longer leased to {self.ctx.worker_id}")
            self.stop_requested = stop
            yield conn, target

    # -- the batch ------------------------------------------------------------------

    async def run(self) -> None:
        """Run the batch to its end or its next pause; every outcome is written to its row."""
        self.stop_requested = False
        try:
            await self._setup()
            async with self.client:
                if self.mode == RETRY_MODE:
                    await self._retry_failed()
                elif self.mode == RESOLVE_MODE:
                    await self._resolve_parked()
                elif self.checkpoint.get("phase", "read") == "read":
                    await self._read()
            if self.checkpoint.get("phase") == "deletes":
                await self._deletes()
            await self._finish("completed")
        except Paused as pause:
            logger.info("batch {}: {}", self.uid, pause)
        except StopRequested:
            logger.info("batch stopped on request after {} rows", self.counters.fetched)
            await self._finish("cancelled")
        except LeaseLost as exc:
            logger.warning("{}; leaving the batch to its new owner", exc)
        except (BridgeError, ServiceClientError, ValueError) as exc:
            logger.bind(stage=self.stage).error("batch failed: {}", exc)
            await self._finish("failed", error=str(exc))
        except Exception as exc:
            logger.bind(stage=self.stage).opt(exception=exc).error("batch failed unexpectedly")
            await self._finish("failed", error=f"{type(exc).__name__}: {exc}")

    async def _setup(self) -> None:
        if self.mode not in (RETRY_MODE, RESOLVE_MODE):
            self.pacing = Pacing.from_options(self.options)
        tz = self.ctx.settings.source_timezone
        async with self.ctx.database.transaction() as conn:
            self.spec = await load_spec(conn, self.entity, source_timezone=tz)
            self.parents = {
                ref.parent_entity: await load_spec(conn, ref.parent_entity, source_timezone=tz)
                for ref in self.spec.parent_refs
            }
            children = await child_specs(conn, self.entity, source_timezone=tz)
            self.client: ApiSmithClient = await client_for(
                conn, self.ctx.settings, self.spec.source_name
            )
            if not self.checkpoint:
                committed = await track.committed_cursor(conn, self.entity)
                incremental = (
                    self.spec.delta_strategy is DeltaStrategy.ROWVERSION
                    and self.mode == SyncMode.INCREMENTAL
                )
                from_rowversion = (
                    fetch.below_cursor(committed, self.spec.rowversion_lookback)
                    if incremental
                    else None
                )
                async with self.ctx.target_database.transaction() as target:
                    fresh = self.mode in tuple(SyncMode) and await load.target_is_empty(
                        target, self.spec
                    )
                self.checkpoint = {
                    "phase": "read",
                    "page_cursor": None,
                    "from_rowversion": from_rowversion,
                    "cursor": committed,
                    # the target held nothing when the batch began: no lookups (see _write)
                    "fresh_target": fresh,
                }
                await BatchRepository(conn).set_started(
                    self.uid, cursor_start=from_rowversion, checkpoint=self.checkpoint
                )
        self.pipeline = EntityPipeline(self.spec)
        # parent entity -> pipelines of its child entities (grandchildren are added lazily)
        self.children: dict[str, list[EntityPipeline]] = {
            self.entity: [EntityPipeline(child) for child in children]
        }
        self.detect_deletes = self.mode in tuple(SyncMode) and delta.detects_deletes(
            self.spec.delta_strategy, SyncMode(self.mode)
        )
        if self.detect_deletes:
            async with self._transactions() as (_, target):
                await load.ensure_work_tables(target)
        async with self.ctx.target_database.transaction() as target:
            await outbox.ensure_outbox_table(target)

    async def _read(self) -> None:
        filters = fetch.read_filters(self.spec, from_rowversion=self.checkpoint["from_rowversion"])
        pages = fetch.read_pages(
            self.client,
            self.spec,
            filters=filters,
            page_cursor=self.checkpoint["page_cursor"],
            include_total="total" not in self.checkpoint,
        )
        async with aclosing(pages):
            await self._read_pages(pages)

    async def _read_pages(self, pages: AsyncIterator[fetch.ExecutedPage]) -> None:
        """Every page through the stages and into the target, in order. A page's pure
        stages run in a worker thread while the page before it is written, so the
        transforms of one chunk overlap the database's work on the last."""
        await self._pace()  # a closed window pauses before the ERP is read at all
        before = dict(self.seconds)  # a chunk's metrics: from its page's fetch on
        page = await self._next_page(pages)
        prepared = self._prepare_in_thread(page)
        while True:
            await self._pace()
            self.stage = Stage.NORMALIZE
            records, failures = await self._prepared(prepared)
            if page.total is not None:
                self.checkpoint["total"] = page.total
                if self.pacing is not None:
                    self.checkpoint["rows_per_period"] = self.pacing.rows_per_period(page.total)
            self.checkpoint["page_cursor"] = page.next_cursor
            if page.next_cursor is None:
                self.checkpoint["phase"] = "deletes" if self.detect_deletes else "done"
                await self._chunk(page.rows, prepared=(records, failures), before=before)
                return
            following_before = dict(self.seconds)
            following = await self._next_page(pages)
            prepared = self._prepare_in_thread(following)
            # the next page's fetch is that chunk's, not this one's
            before[Stage.FETCH] = before.get(Stage.FETCH, 0.0) + (
                self.seconds[Stage.FETCH] - following_before.get(Stage.FETCH, 0.0)
            )
            await self._chunk(page.rows, prepared=(records, failures), before=before)
            page, before = following, following_before

    async def _next_page(self, pages: AsyncIterator[fetch.ExecutedPage]) -> fetch.ExecutedPage:
        self.stage = Stage.FETCH
        start = time.perf_counter()  # only the wait: the next page is read ahead
        page = await anext(pages)
        self.seconds[Stage.FETCH] += time.perf_counter() - start
        return page

    def _prepare_in_thread(self, page: fetch.ExecutedPage) -> "asyncio.Future[Timed]":
        """The page's pure stages in a worker thread, with the stage seconds they took
        (kept apart from the batch's, which the event loop adds to meanwhile)."""
        future = asyncio.ensure_future(asyncio.to_thread(self._prepare_timed, page.rows))
        # a batch that ends early leaves the result unread; it holds nothing to clean up
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        return future

    def _prepare_timed(self, raws: list[dict[str, Any]]) -> "Timed":
        seconds: dict[str, float] = {}
        return self.pipeline.prepare(raws, seconds), seconds

    async def _prepared(self, future: "asyncio.Future[Timed]") -> Prepared:
        prepared, seconds = await future
        for stage, spent in seconds.items():
            self.seconds[stage] += spent
        return prepared

    async def _pace(self) -> None:
        """Between chunks: pause when the window has closed or this period's portion is read."""
        if self.pacing is None:
            return
        now = self.ctx.now()
        period = self.pacing.period(now)
        if period is None:
            await self._pause(self.pacing.next_period(now), "the window is closed")
        opens, closes = period
        self.stop_at = closes if self.pacing.window is not None else None
        if not self.pacing.days_to_complete:
            return
        if self.checkpoint.get("period") != opens.isoformat():
            self.checkpoint["period"] = opens.isoformat()
            self.checkpoint["period_rows_from"] = self.counters.fetched
            self.checkpoint["periods"] = int(self.checkpoint.get("periods", 0)) + 1
        budget = self.checkpoint.get("rows_per_period")
        if budget is not None and self._period_rows() >= budget:
            await self._pause(self.pacing.next_period(now), "this period's portion is read")

    def _period_rows(self) -> int:
        return self.counters.fetched - int(self.checkpoint.get("period_rows_from", 0))

    async def _pause(self, until: datetime, reason: str) -> NoReturn:
        """Commit the progress and hand the batch back as pending until ``until``."""
        async with self._transactions() as (conn, _):
            if self.stop_requested:
                raise StopRequested
            self.stop_at = None
            progress = self._progress()
            progress["paused_until"] = until.isoformat()
            await self._save(conn, progress=progress)
            await BatchRepository(conn).pause(self.uid, until=until)
        raise Paused(until, reason)

    async def _retry_failed(self) -> None:
        """Re-run the entity's open failed records through the pipeline, oldest first
        (a periodic retry takes only those whose retry is due)."""
        before = self.batch["created_at"]
        due_at = self.ctx.now() if self.options.get("due_only") else None
        while True:
            async with self.ctx.database.transaction() as conn:
                rows = await track.open_failures(
                    conn,
                    entity=self.entity,
                    created_before=before,
                    limit=self.ctx.settings.chunk_rows,
                    due_at=due_at,
                )
            if not rows:
                return
            await self._chunk([r["raw_data"] for r in rows], retried=rows)

    async def _resolve_parked(self) -> None:
        """Try the entity's parked children whose retry is due again, oldest first."""
        due_at = self.ctx.now()
        while True:
            async with self.ctx.database.transaction() as conn:
                rows = await track.due_parked(
                    conn, entity=self.entity, due_at=due_at, limit=self.ctx.settings.chunk_rows
                )
            if not rows or not await self._resolve_chunk(rows):
                return

    async def _resolve_chunk(self, rows: list[dict[str, Any]]) -> bool:
        """One chunk of parked children through the pipeline; ``False`` when all of them
        were taken by a parent's batch meanwhile (they are locked or gone)."""
        before = dict(self.seconds)
        outcome = ChunkOutcome()
        async with self._transactions() as (conn, target):
            mine = set(await track.lock_parked(conn, [r["uid"] for r in rows]))
            rows = [r for r in rows if r["uid"] in mine]
            if not rows:
                return False
            await track.forget_parked(conn, [r["uid"] for r in rows])
            self.stage = Stage.NORMALIZE
            raws = [r["row_data"]["raw"] for r in rows]
            records, failures = self.pipeline.prepare(raws, self.seconds)
            outcome.counters.fetched = len(raws)
            self.stage = Stage.RESOLVE
            await self._write(conn, target, self.spec, records, failures, outcome)
            await self._retry_later(conn, rows, outcome)
            counters = outcome.counters
            counters.resolved += counters.inserted + counters.updated + counters.unchanged
            self.counters.add(counters)
            await self._save(conn)
        self._observe(outcome.counters, before)
        if self.stop_requested:
            raise StopRequested
        return True

    async def _retry_later(
        self, conn: AsyncConnection, rows: list[dict[str, Any]], outcome: ChunkOutcome
    ) -> None:
        """Children parked again count an attempt and wait longer; after
        ``pending_max_retries`` attempts they become failed records (stage ``resolve``)."""
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
                later[key] = (tries, now + resolve.next_retry_delay(tries))
        await track.postpone_parked(conn, entity=self.entity, retries=later)
        if given_up:
            await track.unpark_children(
                conn, entity=self.entity, key_hashes=[f.key_hash for f in given_up if f.key_hash]
            )
            # they had their retries as parked children; an operator's retry-failed remains
            await track.record_failures(
                conn,
                entity=self.entity,
                batch_uid=self.uid,
                failures=given_up,
                now=now,
                max_retries=self.ctx.settings.max_retries,
                retry_automatically=False,
            )
            outcome.counters.pending -= len(given_up)
            outcome.counters.failed += len(given_up)

    async def _chunk(
        self,
        raws: list[dict[str, Any]],
        *,
        retried: Sequence[dict[str, Any]] = (),
        before: dict[str, float] | None = None,
        prepared: "Prepared | None" = None,
    ) -> None:
        """One chunk through every stage (or the rest of them, when the pure stages are
        ``prepared`` already), loaded and tracked in one transaction."""
        before = before if before is not None else dict(self.seconds)
        self.stage = Stage.NORMALIZE
        records, failures = (
            prepared if prepared is not None else self.pipeline.prepare(raws, self.seconds)
        )
        outcome = ChunkOutcome(counters=Counters(fetched=len(raws)))
        # a retried row that fails again carries its retry count on
        retries = {
            id(raw): int(row["retry_count"]) + 1 for raw, row in zip(raws, retried, strict=False)
        }
        self.stage = Stage.LOAD
        async with self._transactions() as (conn, target):
            if retried:
                await track.close_failures(conn, [r["uid"] for r in retried])
            await self._write(conn, target, self.spec, records, failures, outcome, retries)
            start = time.perf_counter()
            if self.detect_deletes:
                await load.mark_seen(target, self.uid, outcome.seen)
                self.seen_unkeyed = self.checkpoint.get("unkeyed", 0) + outcome.unkeyed_failures
                self.checkpoint["unkeyed"] = self.seen_unkeyed
            cursor = None if retried else _last_rowversion(self.spec, raws)
            if cursor is not None and not self.dry_run:
                self.checkpoint["cursor"] = cursor
                await track.advance_cursor(
                    conn, entity=self.entity, cursor=cursor, batch_uid=self.uid
                )
            self.counters.add(outcome.counters)
            await self._save(conn)
            self.seconds[Stage.TRACK] += time.perf_counter() - start
        self._observe(outcome.counters, before)
        if self.stop_requested:
            raise StopRequested

    def _observe(self, counters: Counters, before: dict[str, float]) -> None:
        """Metrics of a committed chunk."""
        metrics.count_rows(self.entity, counters)
        metrics.observe_stages(self.entity, before, self.seconds)

    async def _write(
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
        fresh = spec is self.spec and bool(self.checkpoint.get("fresh_target")) and not self.dry_run
        changes, resolution = await self._decide(target, spec, records, lookup=not fresh)
        if not self.dry_run:
            start = time.perf_counter()
            now = datetime.now(UTC)
            if fresh and not await load.insert_new_rows(
                target, spec, resolution.ready, batch_uid=self.uid, now=now
            ):
                self.checkpoint["fresh_target"] = fresh = False
                changes, resolution = await self._decide(target, spec, records, lookup=True)
            if not fresh:
                await load.write_rows(
                    target,
                    spec,
                    resolution.ready,
                    batch_uid=self.uid,
                    now=now,
                    all_new=not changes.updates and not changes.replaced,
                )
            self.seconds[Stage.LOAD] += time.perf_counter() - start
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
        if self.dry_run:
            return

        await outbox.record_changes(
            target,
            spec,
            inserted=[r for r in changes.inserts if id(r) in ready],
            updated=[r for r in (*changes.updates, *changes.replaced) if id(r) in ready],
            batch_uid=self.uid,
        )
        settled = [r.key_hash for r in resolution.ready] + [r.key_hash for r in changes.unchanged]
        await track.settle(conn, entity=spec.name, key_hashes=settled)
        await track.record_failures(
            conn,
            entity=spec.name,
            batch_uid=self.uid,
            failures=failures,
            now=self.ctx.now(),
            max_retries=self.ctx.settings.max_retries,
            retries=retries,
        )
        await track.park_children(
            conn,
            entity=spec.name,
            batch_uid=self.uid,
            parked=[
                (p.record, p.parent_entity, p.parent_key_hash, p.parent_key)
                for p in resolution.parked
            ],
            next_retry_at=self.ctx.now() + resolve.next_retry_delay(0),
        )
        if resolution.ready and depth < MAX_PARENT_DEPTH:
            loaded = [r.key_hash for r in resolution.ready]
            counters.resolved += await self._free_children(conn, target, spec.name, loaded, depth)

    async def _decide(
        self, target: AsyncConnection, spec: EntitySpec, records: list[Record], *, lookup: bool
    ) -> tuple[delta.DeltaSet, resolve.Resolution]:
        """What each record does to the target (``lookup=False``: the target holds none of
        the keys), and which of the rows to write have their parents."""
        start = time.perf_counter()
        existing = (
            await load.lookup_existing(target, spec, [r.key_hash for r in records])
            if lookup
            else {}
        )
        changes = delta.classify(records, existing, self.uid)
        self.seconds[Stage.DELTA] += time.perf_counter() - start
        start = time.perf_counter()
        to_write = changes.to_write()
        found = await self._parent_uids(target, spec, to_write)
        resolution = resolve.resolve(spec, to_write, found)
        self.seconds[Stage.RESOLVE] += time.perf_counter() - start
        return changes, resolution

    async def _parent_uids(
        self, target: AsyncConnection, spec: EntitySpec, records: Sequence[Record]
    ) -> dict[tuple[str, str], UUID]:
        found: dict[tuple[str, str], UUID] = {}
        for parent_entity, hashes in resolve.parent_lookups(spec, records).items():
            parent = self.parents.get(parent_entity) if spec is self.spec else None
            if parent is None:
                async with self.ctx.database.transaction() as conn:
                    parent = await load_spec(
                        conn, parent_entity, source_timezone=self.ctx.settings.source_timezone
                    )
            uids = await load.lookup_parent_uids(target, parent, sorted(hashes))
            found.update({(parent_entity, key): uid for key, uid in uids.items()})
        return found

    async def _children_of(self, conn: AsyncConnection, parent: str) -> list[EntityPipeline]:
        if parent not in self.children:
            specs = await child_specs(
                conn, parent, source_timezone=self.ctx.settings.source_timezone
            )
            self.children[parent] = [EntityPipeline(spec) for spec in specs]
        return self.children[parent]

    async def _free_children(
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
        for pipeline in await self._children_of(conn, parent):
            waiting = await track.children_waiting_for(
                conn, entity=pipeline.spec.name, parent_entity=parent, parent_key_hashes=parent_keys
            )
            if not waiting:
                continue
            await track.forget_parked(conn, [w["uid"] for w in waiting])
            records, failures = pipeline.prepare(
                [w["row_data"]["raw"] for w in waiting], self.seconds
            )
            child = ChunkOutcome()
            await self._write(
                conn, target, pipeline.spec, records, failures, child, depth=depth + 1
            )
            counted = child.counters
            resolved += counted.inserted + counted.updated + counted.unchanged + counted.resolved
        return resolved

    async def _deletes(self) -> None:
        """After a complete read: delete what the source no longer has, within policy."""
        self.stage = Stage.LOAD
        deleted_before = self.counters.deleted
        async with self._transactions() as (conn, target):
            candidates, live = await load.count_delete_candidates(target, self.spec, self.uid)
            decision = delta.decide_deletes(
                candidates,
                live,
                self.spec.delete_policy,
                read_ok=True,
                rows_read=self.counters.fetched,
            )
            unkeyed = int(self.checkpoint.get("unkeyed", 0))
            if decision.apply and unkeyed:
                decision = delta.DeleteDecision(
                    apply=False,
                    warning=f"deletes skipped: {unkeyed} failed rows have unreadable business keys",
                )
            if decision.warning:
                self.warnings.append(decision.warning)
                logger.warning(decision.warning)
            if decision.apply:
                if self.dry_run:
                    self.counters.deleted += candidates
                else:
                    await outbox.record_deletes(target, self.spec, batch_uid=self.uid)
                    self.counters.deleted += await load.apply_deletes(
                        target,
                        self.spec,
                        batch_uid=self.uid,
                        mode=self.spec.delete_policy.mode,
                        now=datetime.now(UTC),
                    )
            await load.forget_seen(target, self.uid)
            self.checkpoint["phase"] = "done"
            await self._save(conn)
        metrics.count_rows(self.entity, Counters(deleted=self.counters.deleted - deleted_before))

    # -- bookkeeping ----------------------------------------------------------------

    def _progress(self) -> dict[str, Any]:
        """Rows read, of how many, how fast, and when the batch should be done (for a
        paced batch: inside its windows, a daily portion at a time)."""
        total = self.checkpoint.get("total")
        fetched = self.counters.fetched
        elapsed = time.monotonic() - self.started
        read_here = fetched - self.fetched_before
        rate = read_here / elapsed if elapsed > 0 and read_here > 0 else None
        progress: dict[str, Any] = {
            "rows": fetched,
            "total_rows": total,
            "rows_per_second": round(rate, 1) if rate else None,
        }
        if total:
            progress["percent"] = round(min(fetched / total, 1.0) * 100, 1)
            budget = self.checkpoint.get("rows_per_period")
            finish = estimate_finish(
                self.pacing,
                now=self.ctx.now(),
                remaining_rows=max(total - fetched, 0),
                rows_per_second=rate,
                rows_per_period=budget,
                budget_left=max(budget - self._period_rows(), 0) if budget else None,
            )
            progress["estimated_finish"] = finish.isoformat() if finish else None
        if self.pacing is not None and self.pacing.days_to_complete:
            progress["days_to_complete"] = self.pacing.days_to_complete
            progress["day"] = self.checkpoint.get("periods")
            progress["rows_per_day"] = self.checkpoint.get("rows_per_period")
        return progress

    async def _save(self, conn: AsyncConnection, progress: dict[str, Any] | None = None) -> None:
        await track.save_progress(
            conn,
            batch_uid=self.uid,
            counters=self.counters,
            checkpoint=self.checkpoint,
            progress=progress if progress is not None else self._progress(),
            stage_seconds=self.seconds,
            cursor_end=self.checkpoint.get("cursor"),
            stop_at=self.stop_at,
        )

    async def _finish(self, status: str, error: str | None = None) -> None:
        async with self.ctx.database.transaction() as conn:
            if status == "failed" and getattr(self, "detect_deletes", False):
                async with self.ctx.target_database.transaction() as target:
                    await load.forget_seen(target, self.uid)
            finished = await BatchRepository(conn).finish(
                self.uid,
                worker_id=self.ctx.worker_id,
                status=status,
                error=error,
                warnings=self.warnings,
            )
            if finished and status == "completed" and not self.dry_run:
                await track.mark_success(conn, entity=self.entity, batch_uid=self.uid)
        if finished:
            metrics.BATCHES_FINISHED.labels(self.entity, status).inc()
        logger.info(
            "batch {} {}: {}",
            self.uid,
            status,
            " ".join(f"{k}={v}" for k, v in self.counters.as_dict().items()),
        )


def _last_rowversion(spec: EntitySpec, raws: Sequence[dict[str, Any]]) -> Any:
    """The cursor after a page: its last non-NULL rowversion, as APISmith sent it.

    Pages come in rowversion order, so this is the page's highest; failed rows count
    too (they wait in failed_records), so a bad row is not re-read by every run.
    """
    if spec.delta_strategy is not DeltaStrategy.ROWVERSION or spec.rowversion_field is None:
        return None
    name = spec.rowversion_field
    return next((raw[name] for raw in reversed(raws) if raw.get(name) is not None), None)


async def run_batch(batch: dict[str, Any], *, ctx: RunContext) -> None:
    """Run one claimed batch to its end."""
    await BatchRun(batch, ctx).run()
