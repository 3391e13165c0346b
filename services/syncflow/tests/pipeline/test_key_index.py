"""The key hash index a first load defers: dropped only while the table is empty, built
again with keys read twice merged (first read's uid and creation time, last read's data)."""

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from bridge_core.db.engine import asyncpg_dsn, create_engine
from bridge_core.ids import new_id
from syncflow.delivery.outbox_reads import OutboxReads
from syncflow.delivery.repository import OutboxRepository
from syncflow.pipeline.key_index import KeyIndexRepository
from syncflow.pipeline.load import OUTBOX_TABLE
from syncflow.targets.service import ensure_table


@pytest.fixture
async def target(create_database, make_spec):
    url = await create_database("key_index")
    spec = make_spec({"name": "parts", "columns": {"part_no": "string", "qty": "number"}})
    engine = create_engine(url)
    async with engine.begin() as conn:
        await ensure_table(conn, spec=spec)
    yield engine, spec, url
    await engine.dispose()


async def unique_constraints(url) -> int:
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'erp.parts'::regclass "
            "AND contype = 'u'"
        )
    finally:
        await conn.close()


async def insert(url, rows) -> None:
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        await conn.executemany(
            "INSERT INTO erp.parts (part_no, qty, _bridge_uid, _bridge_key_hash, "
            "_bridge_data_hash, _bridge_created_at, _bridge_updated_at) "
            "VALUES ($1, $2, $3, $4::text::uuid, decode($5, 'hex'), $6, $6)",
            rows,
        )
    finally:
        await conn.close()


async def test_a_table_with_rows_keeps_its_index(target):
    engine, spec, url = target
    await insert(url, [("P-1", 1, new_id(), "a" * 32, "d" * 64, datetime.now(UTC))])
    async with engine.begin() as conn:
        assert not await KeyIndexRepository(conn).drop_if_empty(spec)
    assert await unique_constraints(url) == 1


async def test_keys_stored_twice_are_merged_when_the_index_is_built(target):
    engine, spec, url = target
    async with engine.begin() as conn:
        assert await KeyIndexRepository(conn).drop_if_empty(spec)
    assert await unique_constraints(url) == 0

    first_at = datetime(2026, 1, 1, tzinfo=UTC)
    first, second, third, other = new_id(), new_id(), new_id(), new_id()
    await insert(
        url,
        [
            ("P-1", 1, first, "a" * 32, "1" * 64, first_at),
            ("P-2", 5, other, "b" * 32, "5" * 64, first_at),
            ("P-1", 2, second, "a" * 32, "2" * 64, first_at + timedelta(minutes=1)),
            ("P-1", 3, third, "a" * 32, "3" * 64, first_at + timedelta(minutes=2)),
        ],
    )
    async with engine.begin() as conn:
        merged = await KeyIndexRepository(conn).ensure(spec)
        again = await KeyIndexRepository(conn).ensure(spec)

    assert (merged, again) == (2, 0)
    assert await unique_constraints(url) == 1
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT part_no, qty, _bridge_uid, _bridge_created_at FROM erp.parts ORDER BY part_no"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [("P-1", 3, first, first_at), ("P-2", 5, other, first_at)]


async def test_merged_keys_leave_one_current_outbox_event(target):
    # a delivered entity's first load: each read got an insert event naming its row
    engine, spec, url = target
    async with engine.begin() as conn:
        assert await KeyIndexRepository(conn).drop_if_empty(spec)
        await OutboxRepository(conn).ensure_table()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    reads = [(new_id(), 1, "1" * 64), (new_id(), 2, "2" * 64), (new_id(), 3, "3" * 64)]
    await insert(url, [("P-1", qty, uid, "a" * 32, hash_, at) for uid, qty, hash_ in reads])
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        await conn.executemany(
            f"INSERT INTO {OUTBOX_TABLE} (entity, bridge_uid, key_hash, operation, data_hash, "
            "batch_uid, parent_key_hashes) VALUES ('parts', $1, $2, 'insert', $3, $4, '{}')",
            [(uid, "a" * 32, hash_, reads[0][0]) for uid, _, hash_ in reads],
        )
    finally:
        await conn.close()
    async with engine.begin() as conn:
        assert await KeyIndexRepository(conn).ensure(spec) == 2
        feed = await OutboxReads(conn).feed(spec, after=0, limit=10)
    # the last read's event names the row that stayed (under the first read's uid)
    assert [e["bridge_uid"] for e in feed] == [reads[0][0], reads[1][0], reads[0][0]]
    assert [e["data"] and json.loads(e["data"])["qty"] for e in feed] == [None, None, 3]
