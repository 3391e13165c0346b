"""The column lane's binary COPY writes what the row-wise COPY writes, and its key sort
finds new, unchanged and changed rows as the row-wise delta does (real PostgreSQL)."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import polars as pl
import pyarrow as pa
import pytest

from bridge_core.db.engine import create_engine
from bridge_core.ids import new_id
from services.syncflow.tests.pipeline.test_frame_lane import (
    MAPPED_SPEC,
    SPEC,
    clean_row,
    mapped_page,
    mapped_row,
    page,
)
from syncflow.pipeline.frames import copy_binary
from syncflow.pipeline.frames.lane import POSITION, LaneResult
from syncflow.pipeline.frames.records import records_of
from syncflow.pipeline.frames.target import FrameTargetRepository
from syncflow.pipeline.load import WORK_SCHEMA, TargetRepository, seen_name, seen_table
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.targets.service import ensure_table

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


async def copy_rows(
    conn, spec, lane: LaneResult, frame: pl.DataFrame, batch: UUID, uids: pa.Array | None = None
) -> pa.Array:
    """COPY ``frame`` (rows of ``lane``) into ``spec``'s target as ``batch`` writes them,
    with these ``_bridge_uid``s (new ones by default); the uids."""
    uids = copy_binary.new_uids(frame.height) if uids is None else uids
    payload = copy_binary.rows_payload(lane, spec, frame, uids=uids, batch_uid=batch, now=NOW)
    assert await FrameTargetRepository(conn).copy_new(spec, payload)
    return uids


async def _rows(url, table):
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.exec_driver_sql(
                f"SELECT * FROM erp.{table} ORDER BY _bridge_key_hash"
            )
            rows = [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()
    return [{k: v for k, v in row.items() if k != "_bridge_uid"} for row in rows]


def copied_page():
    rows = [clean_row(n) for n in range(50)]
    rows[3]["note"] = None
    rows[4]["price"] = Decimal("-0.000")
    return SPEC, page(rows)


def mapped_fields_page():
    """Transforms, a value map, defaults and conversions, mapped in the lane."""
    rows = [mapped_row(n) for n in range(50)]
    for n, row in enumerate(rows):
        row["count"] = n % 2
        row["due"] = row["due"] if n % 3 else None  # the default date
    return MAPPED_SPEC, mapped_page(rows)


@pytest.mark.parametrize("made", [copied_page, mapped_fields_page], ids=["copied", "mapped"])
async def test_binary_copy_writes_what_the_text_copy_writes(create_database, make_spec, made):
    url = await create_database("frame_copy")
    described, table = made()
    lane_spec = make_spec({**described, "name": "by_lane"})
    row_spec = make_spec({**described, "name": "by_rows"})
    pipeline = EntityPipeline(lane_spec)
    _, _, lane, _ = pipeline.prepare_table(table, {}, as_records=False)
    assert lane is not None
    assert lane.slow == []
    records = records_of(lane)
    batch = new_id()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await ensure_table(conn, spec=lane_spec)
            await ensure_table(conn, spec=row_spec)
            uids = copy_binary.new_uids(lane.frame.height)
            payload = copy_binary.rows_payload(
                lane, lane_spec, lane.frame, uids=uids, batch_uid=batch, now=NOW
            )
            assert await FrameTargetRepository(conn).copy_new(lane_spec, payload)
            assert await TargetRepository(conn).insert_new_rows(
                row_spec, records, batch_uid=batch, now=NOW
            )
            # the same keys again: the COPY is undone, nothing doubles
            assert not await FrameTargetRepository(conn).copy_new(lane_spec, payload)
    finally:
        await engine.dispose()
    by_lane, by_rows = await _rows(url, "by_lane"), await _rows(url, "by_rows")
    assert len(by_lane) == 50
    assert by_lane == by_rows


async def test_key_sort_finds_new_unchanged_and_changed_rows(create_database, make_spec):
    url = await create_database("frame_sort")
    spec = make_spec({**SPEC, "name": "sorted"})
    pipeline = EntityPipeline(spec)
    first = [clean_row(n) for n in range(20)]
    _, _, lane, _ = pipeline.prepare_table(page(first), {}, as_records=False)
    assert lane is not None
    earlier, current = new_id(), new_id()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await ensure_table(conn, spec=spec)
            await copy_rows(conn, spec, lane, lane.frame, earlier)
            # rows 0-9 again (5 changed), rows 20-24 new; row 7 soft-deleted meanwhile
            await conn.exec_driver_sql(
                "UPDATE erp.sorted SET _bridge_deleted_at = now() WHERE item_no = 'IT-00007'"
            )
            again = [clean_row(n) for n in [*range(10), *range(20, 25)]]
            for row in again[:5]:
                row["note"] = "changed"
            _, _, lane, _ = pipeline.prepare_table(page(again), {}, as_records=False)
            assert lane is not None
            keys = copy_binary.keys_payload(lane.frame)
            await TargetRepository(conn).ensure_seen_table(current)
            await TargetRepository(conn).ensure_seen_table(earlier)
            found = await FrameTargetRepository(conn).sort_keys(
                spec, keys, batch_uid=current, seen=True
            )
            assert sorted(found.new) == [10, 11, 12, 13, 14]
            assert sorted(found.changed) == [0, 1, 2, 3, 4, 7]
            assert found.ours == []
            uids = dict(
                (await conn.exec_driver_sql("SELECT item_no, _bridge_uid FROM erp.sorted")).all()
            )
            changed = lane.frame.filter(pl.col(POSITION).is_in(found.changed))
            await FrameTargetRepository(conn).merge(
                spec,
                copy_binary.rows_payload(
                    lane,
                    spec,
                    changed,
                    uids=copy_binary.new_uids(changed.height),
                    batch_uid=current,
                    now=NOW,
                ),
            )
            after = (
                await conn.exec_driver_sql(
                    "SELECT item_no, note, _bridge_uid, _bridge_batch_uid, _bridge_deleted_at "
                    f"FROM erp.sorted WHERE _bridge_batch_uid = '{current}' ORDER BY item_no"
                )
            ).all()
            assert [row[0] for row in after] == [f"IT-0000{n}" for n in (0, 1, 2, 3, 4, 7)]
            assert [row[1] for row in after] == ["changed"] * 5 + ["ok"]
            assert all(row[2] == uids[row[0]] and row[4] is None for row in after)
            # rows a batch wrote itself are never "plainly unchanged" for it
            found = await FrameTargetRepository(conn).sort_keys(
                spec, keys, batch_uid=earlier, seen=False
            )
            # (rows 0-4 and 7 were just merged by ``current``: plainly unchanged for it)
            assert sorted(found.ours) == [5, 6, 8, 9]
            assert found.changed == []
            # every key of the chunk is remembered as read by the batch that sorted with seen
            await FrameTargetRepository(conn).mark_seen(
                earlier, copy_binary.seen_payload(lane.frame.head(3))
            )
            counted = await conn.exec_driver_sql(
                f"SELECT (SELECT count(*) FROM {seen_table(current)}), "
                f"(SELECT count(*) FROM {seen_table(earlier)})"
            )
            assert tuple(counted.one()) == (15, 3)
    finally:
        await engine.dispose()


def test_new_uids_are_uuid_v7():
    uids = copy_binary.new_uids(3).to_pylist()
    assert len(set(uids)) == 3
    assert all(UUID(bytes=uid).version == 7 for uid in uids)


def test_position_column_survives_a_filter(make_spec):
    pipeline = EntityPipeline(make_spec(SPEC))
    _, _, lane, _ = pipeline.prepare_table(
        page([clean_row(n) for n in range(6)]), {}, as_records=False
    )
    assert lane is not None
    kept = replace(lane, frame=lane.frame.filter(pl.col(POSITION) >= 3))
    records = records_of(kept)
    assert [r.raw["item_no"] for r in records] == ["IT-00003", "IT-00004", "IT-00005"]


async def test_a_batch_begun_before_the_upgrade_finds_its_seen_keys_moved(create_database):
    """Earlier versions kept every batch's seen keys in one shared table (the key hash
    as text in the oldest): a batch resumed after the upgrade reads them from its own."""
    url = await create_database("seen_moved")
    resumed, other = new_id(), new_id()
    keys = [new_id() for _ in range(3)]
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE SCHEMA syncflow_work")
            await conn.exec_driver_sql(
                "CREATE UNLOGGED TABLE syncflow_work.seen_keys "
                "(batch_uid uuid NOT NULL, key_hash text NOT NULL)"
            )
            for batch, key in [(resumed, keys[0]), (resumed, keys[1]), (other, keys[2])]:
                await conn.exec_driver_sql(
                    f"INSERT INTO syncflow_work.seen_keys VALUES ('{batch}', '{key.hex}')"
                )
        for batch, mine in [(resumed, keys[:2]), (other, keys[2:])]:
            async with engine.begin() as conn:
                repository = TargetRepository(conn)
                await repository.ensure_seen_table(batch)
                await repository.ensure_seen_table(batch)  # and nothing more to do
                moved = await conn.exec_driver_sql(f"SELECT key_hash FROM {seen_table(batch)}")
                assert sorted(row[0] for row in moved) == sorted(mine)
        async with engine.begin() as conn:
            # the shared table, empty now, is gone
            found = await conn.exec_driver_sql("SELECT to_regclass('syncflow_work.seen_keys')")
            assert found.scalar() is None
            await TargetRepository(conn).forget_seen(resumed)
            found = await conn.exec_driver_sql(
                f"SELECT to_regclass('{WORK_SCHEMA}.{seen_name(resumed)}')"
            )
            assert found.scalar() is None
    finally:
        await engine.dispose()
