"""Workers and API calls that create tables at the same moment: every one succeeds.

PostgreSQL's ``IF NOT EXISTS`` forms race on the catalog (a unique violation on
``pg_namespace`` for the second of two concurrent ``CREATE SCHEMA``); SyncFlow takes one
DDL lock per database, so concurrent creators wait for each other instead.
"""

import asyncio

from bridge_core.db.engine import create_engine
from bridge_core.ids import new_id
from syncflow.pipeline.load import TargetRepository
from syncflow.targets.service import ensure_table

CREATORS = 6


async def _at_once(url, work) -> None:
    engine = create_engine(url, pool_size=CREATORS)
    try:
        start = asyncio.Event()

        async def one() -> None:
            async with engine.begin() as conn:
                await start.wait()
                await work(conn)

        tasks = [asyncio.create_task(one()) for _ in range(CREATORS)]
        await asyncio.sleep(0.05)
        start.set()
        await asyncio.gather(*tasks)
    finally:
        await engine.dispose()


async def test_concurrent_batches_create_their_work_tables(create_database):
    for round_ in range(3):
        url = await create_database(f"ddl_work_{round_}")

        async def create(conn):
            # each batch its own table, all of them in one work schema made once
            await TargetRepository(conn).ensure_seen_table(new_id())

        await _at_once(url, create)


async def test_concurrent_creators_of_one_target_table_all_succeed(create_database, make_spec):
    spec = make_spec({"name": "parts", "columns": {"part_no": "string", "qty": "number"}})
    for round_ in range(3):
        url = await create_database(f"ddl_target_{round_}")

        async def create(conn, spec=spec):
            await ensure_table(conn, spec=spec)

        await _at_once(url, create)
