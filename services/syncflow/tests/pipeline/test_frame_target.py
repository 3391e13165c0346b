"""The column lane's binary COPY writes what the row-wise COPY writes, and its key sort
finds new, unchanged and changed rows as the row-wise delta does (real PostgreSQL)."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import polars as pl

from bridge_core.db.engine import create_engine
from bridge_core.ids import new_id
from services.syncflow.tests.pipeline.test_frame_lane import SPEC, clean_row, page
from syncflow.pipeline.frames import copy_binary
from syncflow.pipeline.frames.lane import KEY, POSITION
from syncflow.pipeline.frames.records import records_of
from syncflow.pipeline.frames.target import FrameTargetRepository
from syncflow.pipeline.load import TargetRepository
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.targets.service import ensure_table

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


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


async def test_binary_copy_writes_what_the_text_copy_writes(create_database, make_spec):
    url = await create_database("frame_copy")
    lane_spec = make_spec({**SPEC, "name": "by_lane"})
    row_spec = make_spec({**SPEC, "name": "by_rows"})
    rows = [clean_row(n) for n in range(50)]
    rows[3]["note"] = None
    rows[4]["price"] = Decimal("-0.000")
    pipeline = EntityPipeline(lane_spec)
    _, _, lane, _ = pipeline.prepare_table(page(rows), {}, as_records=False)
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


async def test_upsert_inserts_updates_and_names_the_batchs_own_keys(create_database, make_spec):
    url = await create_database("frame_upsert")
    spec = make_spec({**SPEC, "name": "merged"})
    pipeline = EntityPipeline(spec)
    first = [clean_row(n) for n in range(20)]
    _, _, lane, _ = pipeline.prepare_table(page(first), {}, as_records=False)
    assert lane is not None
    earlier, current = new_id(), new_id()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await ensure_table(conn, spec=spec)
            uids = copy_binary.new_uids(lane.frame.height)
            payload = copy_binary.rows_payload(
                lane, spec, lane.frame, uids=uids, batch_uid=earlier, now=NOW
            )
            rows = FrameTargetRepository(conn)
            assert await rows.copy_new(spec, payload)
            before = dict(
                (await conn.exec_driver_sql("SELECT item_no, _bridge_uid FROM erp.merged")).all()
            )
            # rows 0-9 again (5 changed), rows 20-24 new; row 7 soft-deleted meanwhile
            await conn.exec_driver_sql(
                "UPDATE erp.merged SET _bridge_deleted_at = now() WHERE item_no = 'IT-00007'"
            )
            again = [clean_row(n) for n in [*range(10), *range(20, 25)]]
            for row in again[:5]:
                row["note"] = "changed"
            _, _, lane, _ = pipeline.prepare_table(page(again), {}, as_records=False)
            assert lane is not None

            def items(keys: list[bytes]) -> list[str]:
                frame = lane.frame.filter(pl.col(KEY).is_in(pl.Series(keys).implode()))
                return sorted(frame.get_column("item_no").to_list())

            def payload_of(batch):
                return copy_binary.rows_payload(
                    lane,
                    spec,
                    lane.frame,
                    uids=copy_binary.new_uids(lane.frame.height),
                    batch_uid=batch,
                    now=NOW,
                )

            merged = await rows.upsert(spec, payload_of(current), batch_uid=current)
            assert items(merged.inserted) == [f"IT-000{n}" for n in range(20, 25)]
            assert items(merged.updated) == [f"IT-0000{n}" for n in (0, 1, 2, 3, 4, 7)]
            assert merged.ours == []
            after = (
                await conn.exec_driver_sql(
                    "SELECT item_no, note, _bridge_uid, _bridge_deleted_at FROM erp.merged "
                    f"WHERE _bridge_batch_uid = '{current}' ORDER BY item_no"
                )
            ).all()
            assert [row[0] for row in after] == [
                *(f"IT-0000{n}" for n in (0, 1, 2, 3, 4, 7)),
                *(f"IT-000{n}" for n in range(20, 25)),
            ]
            assert [row[1] for row in after[:6]] == ["changed"] * 5 + ["ok"]
            # updated rows keep their uid and come back from the soft delete
            assert all(row[2] == before[row[0]] and row[3] is None for row in after[:6])
            # the same rows again for the same batch: what it wrote is named, not touched
            merged = await rows.upsert(spec, payload_of(current), batch_uid=current)
            assert merged.inserted == merged.updated == []
            assert items(merged.ours) == [
                *(f"IT-0000{n}" for n in (0, 1, 2, 3, 4, 7)),
                *(f"IT-000{n}" for n in range(20, 25)),
            ]
            # and for another batch: rows 5, 6, 8, 9 are still ``earlier``'s and plainly
            # unchanged; the rest differ from nothing: all unchanged, nothing named
            merged = await rows.upsert(spec, payload_of(new_id()), batch_uid=earlier)
            assert items(merged.ours) == [f"IT-0000{n}" for n in (5, 6, 8, 9)]
            assert merged.inserted == merged.updated == []
            # every key of the chunk is remembered as read by the batch that marks them
            await TargetRepository(conn).ensure_work_tables()
            await rows.mark_seen(copy_binary.seen_payload(lane.frame.head(3), earlier))
            counted = await conn.exec_driver_sql(
                "SELECT batch_uid, count(*) FROM syncflow_work.seen_keys GROUP BY 1"
            )
            assert dict(counted.all()) == {earlier: 3}
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


async def test_the_seen_keys_index_of_earlier_versions_is_dropped(create_database):
    url = await create_database("seen_index")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in (
                "CREATE SCHEMA syncflow_work",
                "CREATE UNLOGGED TABLE syncflow_work.seen_keys "
                "(batch_uid uuid NOT NULL, key_hash uuid NOT NULL)",
                "CREATE INDEX seen_keys_batch_key ON syncflow_work.seen_keys (batch_uid, key_hash)",
            ):
                await conn.exec_driver_sql(statement)
        async with engine.begin() as conn:
            await TargetRepository(conn).ensure_work_tables()
            await TargetRepository(conn).ensure_work_tables()  # and nothing more to do
            found = await conn.exec_driver_sql(
                "SELECT to_regclass('syncflow_work.seen_keys_batch_key'), "
                "to_regclass('syncflow_work.seen_keys')"
            )
            assert tuple(found.one()) == (None, "syncflow_work.seen_keys")
    finally:
        await engine.dispose()
