"""A chunk's column-lane rows into the target, without making a record of each.

Inside the chunk's transaction, before the row-wise writes of the same chunk:

- while the batch's target was empty when it started (a first load), the rows are
  COPYed straight in; a key that is there after all undoes the COPY, and the chunk is
  sorted as every later one is;
- otherwise one query sorts the keys against the target: new keys are COPYed in,
  plainly unchanged rows are only counted, and the rest (changed, soft-deleted, or
  written by this batch in an earlier chunk) become records for the row-wise delta,
  which decides and counts them as it always has.

Every row of the lane is recorded as seen (for delete detection) in the same
transaction, by binary COPY or from the key sort's temporary table; the rows written or
unchanged are settled (their open failures closed, their parked copies dropped); the
parked children of the rows just inserted are freed.
"""

import asyncio
import dataclasses
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl
from sqlalchemy.ext.asyncio import AsyncConnection

from syncflow.domain import Record, Stage
from syncflow.faults import crash_point
from syncflow.orchestration.state import ChunkOutcome
from syncflow.pipeline.frames import copy_binary
from syncflow.pipeline.frames.lane import POSITION, LaneResult
from syncflow.pipeline.frames.records import hex_keys, records_of
from syncflow.pipeline.frames.target import FrameTargetRepository
from syncflow.pipeline.key_index import KeyIndexRepository
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
        payloads: copy_binary.LanePayloads | None = None,
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
        inserted = frame
        rest: pl.DataFrame | None = None
        seen = writer.plan.detect_deletes
        ahead = payloads or copy_binary.LanePayloads()
        if state.checkpoint.get("fresh_target") and await self._copy(
            rows, lane, frame, now, ahead.rows
        ):
            state.seconds[Stage.LOAD] += time.perf_counter() - start
            if seen:
                start = time.perf_counter()
                await rows.mark_seen(ahead.seen or copy_binary.seen_payload(frame, state.uid))
                state.seconds[Stage.TRACK] += time.perf_counter() - start
        else:
            state.checkpoint["fresh_target"] = False
            await KeyIndexRepository(target).ensure(spec)
            payload = ahead.keys
            if payload is None:
                payload = await asyncio.to_thread(copy_binary.keys_payload, frame)
            new, others = await rows.sort_keys(spec, payload, batch_uid=state.uid, seen=seen)
            state.seconds[Stage.DELTA] += time.perf_counter() - start
            start = time.perf_counter()
            inserted = frame.filter(
                pl.col(POSITION).is_in(pl.Series(new, dtype=pl.Int64).implode())
            )
            if not await self._copy(rows, lane, inserted, now):
                others = [*others, *new]  # a concurrent writer added one: merge them all
                inserted = frame.clear()
            rest = frame.filter(pl.col(POSITION).is_in(pl.Series(others, dtype=pl.Int64).implode()))
            state.seconds[Stage.LOAD] += time.perf_counter() - start
        crash_point("load")
        counters = outcome.counters
        counters.inserted += inserted.height
        settled = (
            frame
            if rest is None
            else frame.filter(~pl.col(POSITION).is_in(rest.get_column(POSITION).implode()))
        )
        counters.unchanged += settled.height - inserted.height
        # seen above already (the rows that become records are seen again: harmless)
        await TrackingRepository(conn).settle(entity=spec.name, key_hashes=hex_keys(settled))
        if not inserted.is_empty() and await writer.children_of(conn, spec.name):
            loaded = hex_keys(inserted)
            counters.resolved += await writer.free_children(conn, target, spec.name, loaded, 0)
        if rest is None or rest.is_empty():
            return []
        return records_of(
            dataclasses.replace(lane, frame=rest),
            writer.plan.pipeline.source_fields,
            spec.rowversion_field,
            (),
        )

    async def _copy(
        self,
        rows: FrameTargetRepository,
        lane: LaneResult,
        frame: pl.DataFrame,
        now: datetime,
        payload: bytes | None = None,
    ) -> bool:
        """COPY ``frame``'s rows (``payload``: all of them, encoded ahead) into the target."""
        if frame.is_empty():
            return True
        state, spec = self.writer.state, self.writer.plan.spec
        if payload is None:
            payload = await asyncio.to_thread(
                copy_binary.rows_payload, lane, spec, frame, batch_uid=state.uid, now=now
            )
        return await rows.copy_new(spec, payload)
