"""A whole re-read's known rows (pipeline/frames/known.py) call unchanged exactly the rows
the target's key sort would leave out, each key once, and read their COPY whatever its
pieces (real PostgreSQL)."""

import polars as pl
import pytest

from bridge_core.db.driver import asyncpg_connection
from bridge_core.db.engine import create_engine
from bridge_core.ids import new_id
from services.syncflow.tests.pipeline.test_frame_lane import SPEC, clean_row, page
from services.syncflow.tests.pipeline.test_frame_target import copy_rows
from syncflow.pipeline.frames import copy_binary
from syncflow.pipeline.frames.known import KnownRowsParser
from syncflow.pipeline.frames.lane import DATA, KEY, POSITION
from syncflow.pipeline.frames.records import hex_keys
from syncflow.pipeline.frames.target import FrameTargetRepository
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.targets.service import ensure_table


async def test_known_rows_vouch_for_what_the_key_sort_leaves_out(create_database, make_spec):
    url = await create_database("known_rows")
    spec = make_spec({**SPEC, "name": "known"})
    pipeline = EntityPipeline(spec)
    _, _, lane, _ = pipeline.prepare_table(
        page([clean_row(n) for n in range(30)]), {}, as_records=False
    )
    assert lane is not None
    earlier, current = new_id(), new_id()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await ensure_table(conn, spec=spec)
            rows = FrameTargetRepository(conn)
            # rows 0-24 by an earlier batch, 25-29 by the current one (after a restart)
            await copy_rows(conn, spec, lane, lane.frame.head(25), earlier)
            await copy_rows(conn, spec, lane, lane.frame.tail(5), current)
            await conn.exec_driver_sql(
                "UPDATE erp.known SET _bridge_deleted_at = now() WHERE item_no = 'IT-00007'"
            )
            known = await rows.known_rows(spec, batch_uid=current, limit=1000)
            assert known is not None
            assert len(known) == 24  # neither the soft-deleted row nor the current batch's

            # the whole source again: 0-4 changed, 30-34 new
            again = [clean_row(n) for n in range(35)]
            for row in again[:5]:
                row["note"] = "changed"
            _, _, lane, _ = pipeline.prepare_table(page(again), {}, as_records=False)
            assert lane is not None
            frame = lane.frame
            vouched = known.vouch(frame.get_column(KEY), frame.get_column(DATA))
            by_known = set(frame.filter(pl.Series(vouched)).get_column(POSITION).to_list())
            found = await rows.sort_keys(
                spec, copy_binary.keys_payload(frame), batch_uid=current, seen=False
            )
            decided = {*found.new, *found.changed, *found.ours}
            assert by_known == set(range(35)) - decided
            assert by_known == set(range(5, 25)) - {7}
            # each key vouches once: read again, it is the target's to decide
            assert not known.vouch(frame.get_column(KEY), frame.get_column(DATA)).any()

            # keys the row-wise stages decided are claimed too
            fresh = await rows.known_rows(spec, batch_uid=current, limit=1000)
            assert fresh is not None
            fresh.claim(hex_keys(frame.head(10)))
            vouched = fresh.vouch(frame.get_column(KEY), frame.get_column(DATA))
            assert set(frame.filter(pl.Series(vouched)).get_column(POSITION).to_list()) == (
                set(range(10, 25))
            )
            # with a limit, that many rows are known (whichever the scan meets first),
            # the others are left to the target
            held = set(range(5, 25)) - {7}  # an earlier batch's, live, unchanged
            partial = await rows.known_rows(spec, batch_uid=current, limit=10)
            assert partial is not None
            assert len(partial) == 10
            vouched = partial.vouch(frame.get_column(KEY), frame.get_column(DATA))
            by_partial = set(frame.filter(pl.Series(vouched)).get_column(POSITION).to_list())
            # (rows 0-4 changed: if known, not vouched for)
            assert by_partial <= held
            assert len(by_partial) >= 10 - 5
            assert await rows.known_rows(spec, batch_uid=current, limit=0) is None

            # the COPY parsed the same in pieces of any size
            pieces: list[bytes] = []

            async def collect(piece: bytes) -> None:
                pieces.append(piece)

            driver = await asyncpg_connection(conn)
            await driver.copy_from_query(
                "SELECT _bridge_key_hash, substring(_bridge_data_hash FROM 1 FOR 8) FROM erp.known",
                output=collect,
                format="binary",
            )
            stream = b"".join(pieces)
            # made for 1 row: the arrays grow as rows come
            whole, split = KnownRowsParser(30), KnownRowsParser(1)
            await whole.feed(stream)
            for start in range(0, len(stream), 7):
                await split.feed(stream[start : start + 7])
            one, other = whole.rows(), split.rows()
            assert len(one) == len(other) == 30
            assert one.vouch(frame.get_column(KEY), frame.get_column(DATA)).tolist() == (
                other.vouch(frame.get_column(KEY), frame.get_column(DATA)).tolist()
            )
    finally:
        await engine.dispose()


async def test_a_cut_short_copy_is_refused():
    parser = KnownRowsParser(10)
    await parser.feed(b"PGCOPY\n\xff\r\n\x00" + bytes(8) + bytes(20))
    with pytest.raises(ValueError, match="ended early"):
        parser.rows()


async def test_rows_in_any_order_are_found_by_key():
    parser = KnownRowsParser(2)
    header = b"PGCOPY\n\xff\r\n\x00" + bytes(8)

    def row(first: int, data: int) -> bytes:
        key, digest = bytes([first]) + bytes(15), data.to_bytes(8, "big")
        return b"\x00\x02" + (16).to_bytes(4, "big") + key + (8).to_bytes(4, "big") + digest

    # grows past its capacity, and sorts what came in the scan's order
    await parser.feed(header + row(3, 30) + row(1, 10) + row(2, 20) + b"\xff\xff")
    known = parser.rows()
    keys = pl.Series([bytes([n]) + bytes(15) for n in (2, 3, 4, 1)], dtype=pl.Binary)
    data = pl.Series([n.to_bytes(8, "big") + bytes(24) for n in (20, 31, 40, 10)])
    assert known.vouch(keys, data).tolist() == [True, False, False, True]
