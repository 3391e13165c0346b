"""The runner: the one module that imports every stage and runs a batch through them.

A batch reads its entity's API page by page. Each page goes through the pure
stages (normalize, validate, map, identity, delta, resolve) and is then loaded
and tracked in ONE transaction that also stores the batch's checkpoint and the
entity's cursor, so a crash or a kill at any point loses nothing and duplicates
nothing: a resumed batch starts after the last committed page. Deletes are
decided after a complete read. The batch row is locked in every chunk
transaction and must still carry this worker's lease, which fences off a worker
that lost its lease.
"""

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.transaction import Database
from bridge_core.errors import BridgeError
from bridge_core.http.client import ServiceClientError
from syncflow.apismith_client import ApiSmithClient
from syncflow.entities.service import child_specs, load_spec
from syncflow.pipeline import delta, fetch, load, resolve, track
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.pipeline.types import (
    Counters,
    DeltaStrategy,
    EntitySpec,
    Record,
    RowFailure,
    Stage,
    SyncMode,
)
from syncflow.settings import Settings
from syncflow.sources.service import client_for
from syncflow.sync.repository import BatchRepository

RETRY_MODE = "retry"


class LeaseLost(Exception):
    """Another worker owns the batch now; this one must stop without writing."""


class StopRequested(Exception):
    """An operator asked the batch to stop; it ends after its last committed chunk."""


@dataclass
class RunContext:
    """What a batch runs with: databases, settings, who runs it."""

    database: Database
    target_database: Database
    settings: Settings
    worker_id: str


@dataclass
class ChunkOutcome:
    counters: Counters = field(default_factory=Counters)
    seen: list[str] = field(default_factory=list)
    unkeyed_failures: int = 0


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
        self.started = time.monotonic()

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
        """Run the batch to its end; every outcome is written to its row."""
        self.stop_requested = False
        try:
            await self._setup()
            async with self.client:
                if self.mode == RETRY_MODE:
                    await self._retry_failed()
                elif self.checkpoint.get("phase", "read") == "read":
                    await self._read()
            if self.detect_deletes and self.mode != RETRY_MODE:
                await self._deletes()
            await self._finish("completed")
        except StopRequested:
            logger.info("batch stopped on request after {} rows", self.counters.fetched)
            await self._finish("cancelled")
        except LeaseLost as exc:
            logger.warning("{}; leaving the batch to its new owner", exc)
        except (BridgeError, ServiceClientError, ValueError) as exc:
            logger.error("batch failed: {}", exc)
            await self._finish("failed", error=str(exc))
        except Exception as exc:
            logger.opt(exception=exc).error("batch failed unexpectedly")
            await self._finish("failed", error=f"{type(exc).__name__}: {exc}")

    async def _setup(self) -> None:
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
                from_rowversion = committed if incremental else None
                self.checkpoint = {
                    "phase": "read",
                    "page_cursor": None,
                    "from_rowversion": from_rowversion,
                    "cursor": committed,
                }
                await BatchRepository(conn).set_started(
                    self.uid, cursor_start=from_rowversion, checkpoint=self.checkpoint
                )
        self.pipeline = EntityPipeline(self.spec)
        self.children = {child.name: EntityPipeline(child) for child in children}
        self.detect_deletes = self.mode != RETRY_MODE and delta.detects_deletes(
            self.spec.delta_strategy, SyncMode(self.mode)
        )
        if self.detect_deletes:
            async with self._transactions() as (_, target):
                await load.ensure_work_tables(target)

    async def _read(self) -> None:
        filters = fetch.read_filters(self.spec, from_rowversion=self.checkpoint["from_rowversion"])
        while True:
            start = time.perf_counter()
            page = await fetch.fetch_page(
                self.client,
                self.spec,
                filters=filters,
                page_cursor=self.checkpoint["page_cursor"],
                include_total="total" not in self.checkpoint,
            )
            self.seconds[Stage.FETCH] += time.perf_counter() - start
            if page.total is not None:
                self.checkpoint["total"] = page.total
            self.checkpoint["page_cursor"] = page.next_cursor
            if page.next_cursor is None:
                self.checkpoint["phase"] = "deletes" if self.detect_deletes else "done"
            await self._chunk(page.rows)
            if page.next_cursor is None:
                return

    async def _retry_failed(self) -> None:
        """Re-run the entity's open failed records through the pipeline, oldest first."""
        before = self.batch["created_at"]
        while True:
            async with self.ctx.database.transaction() as conn:
                rows = await track.open_failures(
                    conn,
                    entity=self.entity,
                    created_before=before,
                    limit=self.ctx.settings.chunk_rows,
                )
            if not rows:
                return
            await self._chunk([r["raw_data"] for r in rows], retried=[r["uid"] for r in rows])

    async def _chunk(self, raws: list[dict[str, Any]], retried: Sequence[UUID] = ()) -> None:
        """One chunk through every stage, loaded and tracked in one transaction."""
        records, failures = self.pipeline.prepare(raws, self.seconds)
        outcome = ChunkOutcome(counters=Counters(fetched=len(raws)))
        async with self._transactions() as (conn, target):
            if retried:
                await track.close_failures(conn, retried)
            await self._write(conn, target, self.spec, records, failures, outcome)
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
        if self.stop_requested:
            raise StopRequested

    async def _write(
        self,
        conn: AsyncConnection,
        target: AsyncConnection,
        spec: EntitySpec,
        records: list[Record],
        failures: list[RowFailure],
        outcome: ChunkOutcome,
    ) -> None:
        """Delta, resolve, load and track one entity's prepared records."""
        start = time.perf_counter()
        existing = await load.lookup_existing(target, spec, [r.key_hash for r in records])
        changes = delta.classify(records, existing, self.uid)
        self.seconds[Stage.DELTA] += time.perf_counter() - start

        start = time.perf_counter()
        to_write = changes.to_write()
        found = await self._parent_uids(target, spec, to_write)
        resolution = resolve.resolve(spec, to_write, found)
        failures = [*failures, *resolution.failures]
        self.seconds[Stage.RESOLVE] += time.perf_counter() - start

        ready = {id(r) for r in resolution.ready}
        counters = outcome.counters
        counters.inserted += sum(1 for r in changes.inserts if id(r) in ready)
        counters.updated += sum(1 for r in changes.updates if id(r) in ready)
        counters.unchanged += len(changes.unchanged)
        counters.duplicate += len(changes.duplicates) + sum(
            1 for r in changes.replaced if id(r) in ready
        )
        counters.pending += len(resolution.parked)
        counters.failed += len(failures)
        outcome.seen.extend(r.key_hash for r in records)
        outcome.seen.extend(f.key_hash for f in failures if f.key_hash)
        outcome.unkeyed_failures += sum(1 for f in failures if not f.key_hash)
        if self.dry_run:
            return

        start = time.perf_counter()
        now = datetime.now(UTC)
        await load.write_rows(target, spec, resolution.ready, batch_uid=self.uid, now=now)
        self.seconds[Stage.LOAD] += time.perf_counter() - start
        settled = [r.key_hash for r in resolution.ready] + [r.key_hash for r in changes.unchanged]
        await track.unpark_children(conn, entity=spec.name, key_hashes=settled)
        await track.resolve_failures(conn, entity=spec.name, key_hashes=settled)
        await track.record_failures(conn, entity=spec.name, batch_uid=self.uid, failures=failures)
        await track.park_children(
            conn,
            entity=spec.name,
            batch_uid=self.uid,
            parked=[
                (p.record, p.parent_entity, p.parent_key_hash, p.parent_key)
                for p in resolution.parked
            ],
            next_retry_at=now + resolve.next_retry_delay(0),
        )
        if spec is self.spec and self.children:
            loaded = [r.key_hash for r in resolution.ready]
            counters.resolved += await self._free_children(conn, target, loaded)

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

    async def _free_children(
        self, conn: AsyncConnection, target: AsyncConnection, parent_keys: Sequence[str]
    ) -> int:
        """Load the parked children of the rows just loaded; return how many went in."""
        resolved = 0
        for name, pipeline in self.children.items():
            waiting = await track.children_waiting_for(
                conn, entity=name, parent_entity=self.entity, parent_key_hashes=parent_keys
            )
            if not waiting:
                continue
            await track.forget_parked(conn, [w["uid"] for w in waiting])
            records, failures = pipeline.prepare(
                [w["row_data"]["raw"] for w in waiting], self.seconds
            )
            child = ChunkOutcome()
            await self._write(conn, target, pipeline.spec, records, failures, child)
            resolved += child.counters.inserted + child.counters.updated + child.counters.unchanged
        return resolved

    async def _deletes(self) -> None:
        """After a complete read: delete what the source no longer has, within policy."""
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

    # -- bookkeeping ----------------------------------------------------------------

    def _progress(self) -> dict[str, Any]:
        total = self.checkpoint.get("total")
        elapsed = time.monotonic() - self.started
        progress: dict[str, Any] = {
            "rows": self.counters.fetched,
            "total_rows": total,
            "rows_per_second": round(self.counters.fetched / elapsed, 1) if elapsed > 0 else None,
        }
        if total:
            done = min(self.counters.fetched / total, 1.0)
            progress["percent"] = round(done * 100, 1)
        return progress

    async def _save(self, conn: AsyncConnection) -> None:
        await track.save_progress(
            conn,
            batch_uid=self.uid,
            counters=self.counters,
            checkpoint=self.checkpoint,
            progress=self._progress(),
            stage_seconds=self.seconds,
            cursor_end=self.checkpoint.get("cursor"),
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
