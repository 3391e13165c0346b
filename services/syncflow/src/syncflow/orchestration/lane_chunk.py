"""A chunk's column-lane rows into the target, without making a record of each.

Inside the chunk's transaction, before the row-wise writes of the same chunk:

- while the batch's target was empty when it started (a first load), the rows are
  COPYed straight in; a key that is there after all undoes the COPY, and the chunk is
  sorted as every later one is;
- otherwise one query sorts the keys against the target: new keys are COPYed in,
  rows changed since an earlier batch wrote them (or soft-deleted) are staged by binary
  COPY and merged with the row-wise load's own ``INSERT ... ON CONFLICT DO UPDATE``,
  plainly unchanged rows are only counted, and keys this batch already wrote in an
  earlier chunk become records for the row-wise delta, which decides and counts them
  (``duplicate``) as it always has. A batch that reads the whole source first lets its
  known rows (``pipeline/frames/known.py``) count the rows they vouch for as unchanged,
  and sorts only the others.

Every row of the lane is recorded as seen (for delete detection) in the same
transaction, by binary COPY or from the key sort's temporary table; the rows written or
unchanged are settled (their open failures closed, their parked copies dropped); the
parked children of the rows just inserted or updated are freed.
"""

import asyncio
import dataclasses
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.delivery.loads import OutboxLoads
from syncflow.delivery.repository import OutboxRepository
from syncflow.domain import Record, Stage
from syncflow.faults import crash_point
from syncflow.orchestration.state import ChunkOutcome
from syncflow.pipeline.frames import copy_binary
from syncflow.pipeline.frames.ahead import LanePayloads
from syncflow.pipeline.frames.lane import DATA, KEY, POSITION, LaneResult
from syncflow.pipeline.frames.records import hex_keys, records_of
from syncflow.pipeline.frames.target import FrameTargetRepository, SortedKeys
from syncflow.pipeline.track import TrackingRepository

if TYPE_CHECKING:
    from syncflow.orchestration.chunk import ChunkWriter


class LaneWriter:
    """Writes the column lane's rows of one chunk (the batch's own entity)."""

    def __init__(self, writer: "ChunkWriter") -> None:
        self.writer = writer

    async def write(
        self,
        conn: AsyncConnection,
        target: AsyncConnection,
        lane: LaneResult,
        outcome: ChunkOutcome,
        payloads: LanePayloads | None = None,
    ) -> list[Record]:
        """Write what the lane's rows need; return those the row-wise delta must decide
        (``payloads``: COPY payloads encoded ahead, used where they fit)."""
        frame = lane.frame
        if frame.is_empty():
            return []
        writer = self.writer
        state, spec = writer.state, writer.plan.spec
        rows = FrameTargetRepository(target)
        now = datetime.now(UTC)
        start = time.perf_counter()
        inserted, updated = frame, frame.clear()
        rest: pl.DataFrame | None = None
        seen = writer.plan.detect_deletes
        ahead = payloads or LanePayloads()
        if state.checkpoint.get("fresh_target") and await self._copy(
            target, lane, frame, now, ahead
        ):
            state.seconds[Stage.LOAD] += time.perf_counter() - start
            if seen:
                start = time.perf_counter()
                await rows.mark_seen(state.uid, ahead.seen or copy_binary.seen_payload(frame))
                state.seconds[Stage.TRACK] += time.perf_counter() - start
        else:
            state.checkpoint["fresh_target"] = False
            await writer.key_index(target, spec)
            found = await self._sort(rows, frame, ahead)
            state.seconds[Stage.DELTA] += time.perf_counter() - start
            start = time.perf_counter()
            inserted, updated = _at(frame, found.new), _at(frame, found.changed)
            if not await self._copy(target, lane, inserted, now):
                # a concurrent writer added one of the keys: the row-wise delta decides
                found.ours.extend(found.new)
                inserted = frame.clear()
            if not updated.is_empty():
                uids = copy_binary.new_uids(updated.height)  # the rows keep their own
                outbox = OutboxRepository(target) if self._outbox else None
                if outbox is not None:
                    # an earlier load's events name these rows as they were before
                    await OutboxLoads(target).expand(spec.name, writer=True)
                await rows.merge(spec, await self._payload(lane, updated, uids, now))
                if outbox is not None:
                    await outbox.record_keys(
                        spec,
                        key_hashes=hex_keys(updated),
                        operations=["update"] * updated.height,
                        batch_uid=state.uid,
                    )
            rest = _at(frame, found.ours)
            state.seconds[Stage.LOAD] += time.perf_counter() - start
        crash_point("load")
        counters = outcome.counters
        counters.inserted += inserted.height
        counters.updated += updated.height
        settled = (
            frame if rest is None or rest.is_empty() else frame.join(rest, on=POSITION, how="anti")
        )
        counters.unchanged += settled.height - inserted.height - updated.height
        # seen above already (the rows that become records are seen again: harmless)
        await TrackingRepository(conn).settle(
            entity=spec.name, key_hashes=lambda: hex_keys(settled)
        )
        written = inserted if updated.is_empty() else pl.concat([inserted, updated])
        if not written.is_empty() and await writer.children_of(conn, spec.name):
            loaded = hex_keys(written)
            counters.resolved += await writer.free_children(conn, target, spec.name, loaded, 0)
        if rest is None or rest.is_empty():
            return []
        return records_of(dataclasses.replace(lane, frame=rest))

    async def _sort(
        self, rows: FrameTargetRepository, frame: pl.DataFrame, ahead: LanePayloads
    ) -> SortedKeys:
        """The frame's rows by what the target holds for their keys: those a whole-source
        read's known rows vouch for are unchanged (and seen), the rest are sorted by the
        target."""
        writer = self.writer
        state, seen, payload = writer.state, writer.plan.detect_deletes, ahead.keys
        known = await writer.known_rows(rows)
        if known is not None:
            vouched = known.vouch(frame.get_column(KEY), frame.get_column(DATA))
            await rows.mark_seen(state.uid, ahead.seen or copy_binary.seen_payload(frame))
            frame, seen, payload = frame.filter(pl.Series(~vouched)), False, None
            if frame.is_empty():
                return SortedKeys()
        if payload is None:
            payload = await asyncio.to_thread(copy_binary.keys_payload, frame)
        return await rows.sort_keys(writer.plan.spec, payload, batch_uid=state.uid, seen=seen)

    @property
    def _outbox(self) -> bool:
        """Whether the entity's changes go to the outbox."""
        plan = self.writer.plan
        return plan.records_changes_of(plan.spec.name)

    async def _payload(
        self, lane: LaneResult, frame: pl.DataFrame, uids: pa.Array, now: datetime
    ) -> bytes:
        state, spec = self.writer.state, self.writer.plan.spec
        return await asyncio.to_thread(
            copy_binary.rows_payload, lane, spec, frame, uids=uids, batch_uid=state.uid, now=now
        )

    async def _copy(
        self,
        target: AsyncConnection,
        lane: LaneResult,
        frame: pl.DataFrame,
        now: datetime,
        ahead: LanePayloads | None = None,
    ) -> bool:
        """COPY ``frame``'s rows into the target, and one load naming them into the
        outbox when it has one (their ``insert`` events, made when the outbox is read
        next; ``ahead``: every row of the lane, encoded ahead);
        ``False`` (nothing written) when one of the keys is there after all."""
        if frame.is_empty():
            return True
        state, spec = self.writer.state, self.writer.plan.spec
        uids, payload = (ahead.uids, ahead.rows) if ahead is not None else (None, None)
        if uids is None or payload is None:
            uids = copy_binary.new_uids(frame.height)
            payload = await self._payload(lane, frame, uids, now)
        if not await FrameTargetRepository(target).copy_new(spec, payload):
            return False
        if self._outbox:
            await OutboxLoads(target).record(
                spec, uids=copy_binary.uid_bytes(uids), count=frame.height, batch_uid=state.uid
            )
        return True


def _at(frame: pl.DataFrame, positions: list[int]) -> pl.DataFrame:
    """The rows of ``frame`` at these input positions."""
    if not positions:
        return frame.clear()
    return frame.filter(pl.col(POSITION).is_in(pl.Series(positions, dtype=pl.Int64).implode()))
