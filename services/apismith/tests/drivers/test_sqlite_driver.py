"""The SQLite driver against a real database file."""

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing

import pytest

from apismith.drivers.base import (
    BoundQuery,
    ConnectionOptions,
    ErpQueryError,
    ErpTimeout,
    ErpUnreachable,
)
from apismith.drivers.sqlite import SqliteDriver, inferred_type

ROWS = 2_500
RUNAWAY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


@pytest.fixture(scope="module")
def executor():
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield pool


@pytest.fixture(scope="module")
def erp_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "erp ü.db"  # a space and non-ASCII in the path
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE parts (id INTEGER PRIMARY KEY, part_no TEXT NOT NULL, name TEXT, "
        "unit_price NUMERIC, weight REAL, drawing BLOB)"
    )
    conn.executemany(
        "INSERT INTO parts VALUES (?, ?, ?, ?, ?, ?)",
        [
            (n, f"P-{n:05}", None if n % 10 == 0 else f"Größe {n} 测试", n * 2, n / 4, b"\x00\xff")
            for n in range(1, ROWS + 1)
        ],
    )
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def driver(erp_file, executor):
    return SqliteDriver(f"sqlite:///{erp_file}", ConnectionOptions(), executor=executor)


async def test_ping_reports_the_sqlite_version(driver):
    info = await driver.ping()
    assert info.server_version == f"SQLite {sqlite3.sqlite_version}"


async def test_describe_infers_types_from_sampled_rows(driver):
    columns = await driver.describe(
        BoundQuery(
            "SELECT * FROM (SELECT id, name, weight, drawing, NULL AS blank FROM parts) LIMIT 0"
        ),
        sample=BoundQuery("SELECT id, name, weight, drawing, NULL AS blank FROM parts"),
    )
    assert [(c.name, c.data_type) for c in columns] == [
        ("id", "integer"),
        ("name", "string"),
        ("weight", "number"),
        ("drawing", "binary"),
        ("blank", "string"),
    ]


async def test_describe_without_a_sample_knows_only_names(driver):
    columns = await driver.describe(BoundQuery("SELECT id, weight FROM parts LIMIT 0"))
    assert [(c.name, c.data_type) for c in columns] == [("id", "string"), ("weight", "string")]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, None], "integer"),
        ([1, 2.5], "number"),
        ([None, None], "string"),
        ([b"x"], "binary"),
        ([1, "a"], "string"),
    ],
)
def test_inferred_type(values, expected):
    assert inferred_type(values) == expected


async def test_stream_yields_bounded_chunks_of_every_row(driver):
    sizes = []
    rows = []
    async for chunk in driver.stream(
        BoundQuery("SELECT id, name FROM parts ORDER BY id"), chunk_rows=1000
    ):
        sizes.append(len(chunk))
        rows.extend(chunk)
    assert sizes == [1000, 1000, 500]
    assert [r[0] for r in rows] == list(range(1, ROWS + 1))
    assert rows[4] == (5, "Größe 5 测试")
    assert rows[9] == (10, None)


async def test_parameters_are_bound(driver):
    rows = await driver.fetch(BoundQuery("SELECT part_no FROM parts WHERE id IN (?, ?)", (3, 4)))
    assert rows == [("P-00003",), ("P-00004",)]


async def test_runaway_statement_times_out(driver):
    start = time.monotonic()
    with pytest.raises(ErpTimeout, match="100 ms"):
        await driver.fetch(BoundQuery(RUNAWAY), timeout_ms=100)
    assert time.monotonic() - start < 3


async def test_writes_are_refused(driver):
    with pytest.raises(ErpQueryError, match="readonly"):
        await driver.fetch(BoundQuery("INSERT INTO parts (id, part_no) VALUES (0, 'x')"))
    with pytest.raises(ErpQueryError, match="readonly"):
        await driver.fetch(BoundQuery("DELETE FROM parts"))
    assert await driver.fetch(BoundQuery("SELECT count(*) FROM parts")) == [(ROWS,)]


async def test_a_cancelled_call_stops_its_statement(driver, executor):
    task = asyncio.create_task(driver.fetch(BoundQuery(RUNAWAY), timeout_ms=60_000))
    await asyncio.sleep(0.2)
    task.cancel()
    start = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - start < 2
    # the pool thread is free again
    assert await driver.fetch(BoundQuery("SELECT 1")) == [(1,)]


async def test_an_abandoned_stream_closes_its_connection(driver):
    async with aclosing(driver.stream(BoundQuery("SELECT id FROM parts"), chunk_rows=10)) as rows:
        async for chunk in rows:
            assert len(chunk) == 10
            break
    assert await driver.fetch(BoundQuery("SELECT count(*) FROM parts")) == [(ROWS,)]


async def test_missing_file_is_unreachable(tmp_path, executor):
    driver = SqliteDriver(
        f"sqlite:///{tmp_path}/missing.db", ConnectionOptions(), executor=executor
    )
    with pytest.raises(ErpUnreachable, match=r"missing\.db"):
        await driver.ping()
    assert not (tmp_path / "missing.db").exists()
