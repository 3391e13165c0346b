"""The column lane's outbox events are the events SQL writes of the same stored rows:
same uid, key, data hash, rowversion, batch, no parents, the row left in the target
(real PostgreSQL)."""

from datetime import UTC, datetime
from uuid import UUID

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.engine import create_engine
from bridge_core.ids import new_id
from services.syncflow.tests.pipeline.test_frame_lane import SPEC, messy_rows, page
from syncflow.delivery.repository import OutboxRepository
from syncflow.pipeline.frames import copy_binary, events
from syncflow.pipeline.frames.records import hex_keys
from syncflow.pipeline.frames.target import FrameTargetRepository
from syncflow.pipeline.load import OUTBOX_TABLE
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.targets.service import ensure_table

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
EVENT = (
    "entity, bridge_uid, key_hash, operation, data_hash, rowversion, batch_uid, data, "
    "parent_key_hashes"
)


async def test_lane_events_equal_the_events_sql_writes(create_database, make_spec):
    url = await create_database("frame_events")
    spec = make_spec({**SPEC, "name": "evented"})
    rows = messy_rows()
    _, _, lane, _ = EntityPipeline(spec).prepare_table(page(rows), {}, as_records=False)
    assert lane is not None
    frame = lane.frame
    assert frame.height > 30  # the messy rows the lane takes are in it too
    batch = new_id()
    uids = copy_binary.new_uids(frame.height)
    payload = events.events_payload(spec.name, frame, uids, operation="insert", batch_uid=batch)
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
            written = await outbox.record_keys(
                spec,
                key_hashes=hex_keys(frame),
                operations=["insert"] * frame.height,
                batch_uid=batch,
            )
            assert written == frame.height
            driver = await asyncpg_connection(conn)
            stored = await driver.fetch(f"SELECT {EVENT} FROM {OUTBOX_TABLE} ORDER BY id")
    finally:
        await engine.dispose()
    by_lane = [dict(r) for r in stored[: frame.height]]
    by_sql = [dict(r) for r in stored[frame.height :]]
    assert by_lane == by_sql
    assert {e["data"] for e in by_lane} == {None}  # the row is in the target
    assert {e["operation"] for e in by_lane} == {"insert"}
    assert [str(e["bridge_uid"]) for e in by_lane] == [str(UUID(bytes=u)) for u in uids.to_pylist()]
