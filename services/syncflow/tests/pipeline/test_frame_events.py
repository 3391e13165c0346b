"""The column lane's outbox events are the events SQL writes of the same stored rows:
same uid, key, hashes, rowversion, batch and mapped data, digit for digit, whatever the
session's time zone (real PostgreSQL)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.engine import create_engine
from bridge_core.ids import new_id
from services.syncflow.tests.pipeline.test_frame_lane import SPEC, clean_row, messy_rows, page
from syncflow.delivery.repository import OUTBOX_TABLE, OutboxRepository
from syncflow.pipeline.frames import copy_binary, events
from syncflow.pipeline.frames.records import hex_keys
from syncflow.pipeline.frames.target import FrameTargetRepository
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.targets.service import ensure_table

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
EVENT = "bridge_uid, key_hash, operation, data_hash, rowversion, batch_uid, parent_key_hashes"


async def test_lane_events_equal_the_events_sql_writes(create_database, make_spec):
    url = await create_database("frame_events")
    spec = make_spec({**SPEC, "name": "evented"})
    rows = messy_rows()
    rows[0]["note"] = 'quote " and back\\slash'
    rows[1]["changed_at"] = datetime(2025, 1, 1, 0, 0, 0, 120000, tzinfo=UTC)
    rows[2]["price"] = Decimal("-12345678901234567890.120")
    _, _, lane, _ = EntityPipeline(spec).prepare_table(page(rows), {}, as_records=False)
    assert lane is not None
    frame = lane.frame
    assert frame.height > 30  # the messy rows the lane takes are in it too
    batch = new_id()
    uids = copy_binary.new_uids(frame.height)
    payload = events.events_payload(lane, spec, frame, uids, operation="insert", batch_uid=batch)
    assert payload is not None
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await ensure_table(conn, spec=spec)
            outbox = OutboxRepository(conn)
            await outbox.ensure_table()
            rows_payload = copy_binary.rows_payload(
                lane, spec, frame, uids=uids, batch_uid=batch, now=NOW
            )
            assert await FrameTargetRepository(conn).copy_new(spec, rows_payload)
            await outbox.copy_events(spec.name, payload)
            # SQL renders instants in UTC whatever the session's zone
            await conn.exec_driver_sql("SET TimeZone = 'America/Sao_Paulo'")
            written = await outbox.record_keys(
                spec,
                key_hashes=hex_keys(frame),
                operations=["insert"] * frame.height,
                batch_uid=batch,
            )
            assert written == frame.height
            driver = await asyncpg_connection(conn)
            assert await driver.fetchval("SHOW TimeZone") == "America/Sao_Paulo"
            stored = await driver.fetch(
                f"SELECT {EVENT}, data::text AS data FROM {OUTBOX_TABLE} ORDER BY id"
            )
    finally:
        await engine.dispose()
    by_lane = [dict(r) for r in stored[: frame.height]]
    by_sql = [dict(r) for r in stored[frame.height :]]
    assert by_lane == by_sql
    first = by_lane[0]["data"]
    assert '"note": "quote \\" and back\\\\slash"' in first
    assert '"changed_at": "2025-12-08T09:00:00+00:00"' in first
    assert '"changed_at": "2025-01-01T00:00:00.12+00:00"' in by_lane[1]["data"]
    assert '"price": -12345678901234567890.120' in by_lane[2]["data"]


def test_dates_past_year_9999_are_left_to_sql(make_spec):
    spec = make_spec({**SPEC, "name": "far"})
    row = clean_row(1)
    _, _, lane, _ = EntityPipeline(spec).prepare_table(page([row]), {}, as_records=False)
    assert lane is not None
    far = lane.frame.with_columns((pl.lit(date(9999, 12, 31)) + pl.duration(days=1)).alias("due"))
    assert events.renderable(spec, lane.frame.select(lane.target_columns()))
    assert not events.renderable(spec, far.select(lane.target_columns()))
    uids = copy_binary.new_uids(1)
    assert (
        events.events_payload(lane, spec, far, uids, operation="insert", batch_uid=new_id()) is None
    )
