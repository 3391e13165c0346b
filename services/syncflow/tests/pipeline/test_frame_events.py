"""The column lane's rows get their outbox events from one load per chunk: expanded, the
load's events are the events SQL writes of the same stored rows (same uid, key, data
hash, rowversion, batch, no parents), in COPY order, before any later event of the
entity (a chunk's SQL events, a full sync's deletes, the merge of keys read twice in a
first load); until then the load counts as unread and keeps the entity's head ahead of
any reader (real PostgreSQL)."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import polars as pl
import pyarrow as pa

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.engine import create_engine
from bridge_core.ids import new_id
from services.syncflow.tests.pipeline.test_frame_lane import SPEC, messy_rows, page
from services.syncflow.tests.pipeline.test_frame_target import copy_rows
from syncflow.delivery.loads import OutboxLoads
from syncflow.delivery.outbox_reads import OutboxReads
from syncflow.delivery.repository import OutboxRepository
from syncflow.pipeline.frames import copy_binary
from syncflow.pipeline.frames.lane import DATA, LaneResult
from syncflow.pipeline.frames.records import hex_keys
from syncflow.pipeline.key_index import KeyIndexRepository
from syncflow.pipeline.load import OUTBOX_LOADS, OUTBOX_TABLE, TargetRepository, target_name
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.targets.service import ensure_table

EVENT = (
    "entity, bridge_uid, key_hash, operation, data_hash, rowversion, batch_uid, data, "
    "parent_key_hashes"
)


@asynccontextmanager
async def outboxed(create_database, make_spec, name: str) -> AsyncIterator[Any]:
    """In one transaction on a new database: an entity's target and the outbox, and the
    lane of the messy rows (its frame has the rows the lane takes)."""
    url = await create_database(f"frame_{name}")
    spec = make_spec({**SPEC, "name": name})
    _, _, lane, _ = EntityPipeline(spec).prepare_table(page(messy_rows()), {}, as_records=False)
    assert lane is not None
    assert lane.frame.height > 30  # the messy rows the lane takes are in it too
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await ensure_table(conn, spec=spec)
            await OutboxRepository(conn).ensure_table()
            yield conn, spec, lane
    finally:
        await engine.dispose()


async def copy_and_load(
    conn, spec, lane: LaneResult, batch: UUID, frame: pl.DataFrame | None = None
) -> pa.Array:
    """COPY the lane's rows (or ``frame``) as a lane chunk does, with their load; the uids."""
    frame = lane.frame if frame is None else frame
    uids = await copy_rows(conn, spec, lane, frame, batch)
    await OutboxLoads(conn).record(
        spec, uids=copy_binary.uid_bytes(uids), count=frame.height, batch_uid=batch
    )
    return uids


async def test_a_loads_events_equal_the_events_sql_writes(create_database, make_spec):
    async with outboxed(create_database, make_spec, "evented") as (conn, spec, lane):
        frame, batch, outbox = lane.frame, new_id(), OutboxRepository(conn)
        uids = await copy_and_load(conn, spec, lane, batch)
        driver = await asyncpg_connection(conn)
        assert await driver.fetchval(f"SELECT count(*) FROM {OUTBOX_TABLE}") == 0
        # SQL's events of the same rows: written after the load's, which come first
        written = await outbox.record_keys(
            spec,
            key_hashes=hex_keys(frame),
            operations=["insert"] * frame.height,
            batch_uid=batch,
        )
        assert written == frame.height
        stored = await driver.fetch(f"SELECT {EVENT} FROM {OUTBOX_TABLE} ORDER BY id")
        assert await driver.fetchval(f"SELECT count(*) FROM {OUTBOX_LOADS}") == 0
    by_load = [dict(r) for r in stored[: frame.height]]
    by_sql = [dict(r) for r in stored[frame.height :]]
    assert by_load == by_sql
    assert {e["data"] for e in by_load} == {None}  # the row is in the target
    assert {e["operation"] for e in by_load} == {"insert"}
    assert [str(e["bridge_uid"]) for e in by_load] == [str(UUID(bytes=u)) for u in uids.to_pylist()]


async def test_a_load_counts_as_unread_names_only_its_rows_and_the_feed_expands_it(
    create_database, make_spec
):
    async with outboxed(create_database, make_spec, "loaded") as (conn, spec, lane):
        outbox = OutboxRepository(conn)
        uids = await copy_and_load(conn, spec, lane, new_id())
        raw = copy_binary.uid_bytes(uids)
        # a row-wise row of the same batch whose uid lies between two of the load's
        inside = UUID(bytes=raw[:10] + b"\xff" * 6)
        assert UUID(bytes=raw[:16]) < inside < UUID(bytes=raw[16:32])
        driver = await asyncpg_connection(conn)
        table = target_name(spec)
        await driver.execute(
            f"CREATE TEMP TABLE extra AS SELECT * FROM {table} LIMIT 1;"
            "UPDATE extra SET _bridge_uid = $$" + str(inside) + "$$, "
            "_bridge_key_hash = gen_random_uuid();"
            f"INSERT INTO {table} SELECT * FROM extra"
        )
        unread = await outbox.unread([(spec.name, 0)])
        count, oldest = unread[(spec.name, 0)]
        assert count == lane.frame.height
        assert oldest is not None
        assert abs(oldest - datetime.now(UTC)) < timedelta(minutes=5)
        # no reader has read the load's events, whatever its cursor (even past every
        # event the entity has left after retention)
        assert await outbox.heads([spec.name]) == {spec.name: 2**63 - 1}
        feed = await OutboxReads(conn).feed(spec, after=0, limit=1000)
        assert await outbox.heads([spec.name]) == {spec.name: feed[-1]["id"]}
        assert await outbox.unread([(spec.name, feed[-1]["id"])]) == {
            (spec.name, feed[-1]["id"]): (0, None)
        }
    assert len(feed) == lane.frame.height
    assert [e["bridge_uid"] for e in feed] == [UUID(bytes=u) for u in uids.to_pylist()]
    assert all(e["data"] is not None for e in feed)  # each names its row as stored


async def test_a_load_whose_target_was_dropped_makes_no_event_and_goes(create_database, make_spec):
    async with outboxed(create_database, make_spec, "dropped") as (conn, spec, lane):
        await copy_and_load(conn, spec, lane, new_id())
        driver = await asyncpg_connection(conn)
        await driver.execute(f"DROP TABLE {target_name(spec)}")  # its entity deleted
        assert await OutboxLoads(conn).expand(spec.name) == 0
        assert await driver.fetchval(f"SELECT count(*) FROM {OUTBOX_LOADS}") == 0
        assert await driver.fetchval(f"SELECT count(*) FROM {OUTBOX_TABLE}") == 0


async def test_deletes_come_after_the_events_of_the_loads_before_them(create_database, make_spec):
    async with outboxed(create_database, make_spec, "deleted") as (conn, spec, lane):
        outbox = OutboxRepository(conn)
        await copy_and_load(conn, spec, lane, new_id())
        # a later full sync that saw none of the rows deletes them all
        later = new_id()
        rows = TargetRepository(conn)
        await rows.ensure_seen_table(later)
        assert await rows.count_delete_candidates(spec, later) == (lane.frame.height,) * 2
        assert await outbox.record_deletes(spec, batch_uid=later) == lane.frame.height
        driver = await asyncpg_connection(conn)
        stored = await driver.fetch(f"SELECT operation FROM {OUTBOX_TABLE} ORDER BY id")
    height = lane.frame.height
    assert [e["operation"] for e in stored] == ["insert"] * height + ["delete"] * height


async def test_a_key_read_row_wise_then_by_the_lane_in_a_first_load_is_sent_as_its_last_read(
    create_database, make_spec
):
    async with outboxed(create_database, make_spec, "merged") as (conn, spec, lane):
        frame, batch, outbox = lane.frame, new_id(), OutboxRepository(conn)
        assert await KeyIndexRepository(conn).drop_if_empty(spec)  # a first load
        first = await copy_rows(conn, spec, lane, frame, batch)
        # the first reads' events as the row-wise stages write them
        keys = hex_keys(frame)
        await outbox.record_keys(
            spec, key_hashes=keys, operations=["insert"] * len(keys), batch_uid=batch
        )
        # the same keys read again later in the load, with other data
        again = frame.with_columns(pl.col(DATA).map_elements(lambda _: os.urandom(32), pl.Binary))
        await copy_and_load(conn, spec, lane, batch, again)
        assert await KeyIndexRepository(conn).ensure(spec) == frame.height
        feed = await OutboxReads(conn).feed(spec, after=0, limit=1000)
    # each key's last event names the row that stayed (the first read's uid) and is sent
    last_event = {e["key_hash"]: e for e in feed}
    assert set(last_event) == set(keys)
    assert {e["bridge_uid"] for e in last_event.values()} == {
        UUID(bytes=u) for u in first.to_pylist()
    }
    assert all(e["data"] is not None for e in last_event.values())
