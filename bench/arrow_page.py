"""One 100,000-row Arrow page from PostgreSQL: APISmith's path against ADBC's.

    uv run python bench/arrow_page.py [--rows 100000]

A fresh database (on ``BENCH_DATABASE_URL``, default the local server) gets an
``orders`` table shaped like TPC-H's (bigint key, numeric(15,2), date, text,
timestamptz). Timed, median of 6 after 2 warm-ups, for one keyset page of ``--rows``:

- ``asyncpg``: APISmith's ``PostgresDriver.fetch`` (asyncpg pool, read-only session,
  statement timeout) and ``page_body`` (the Arrow IPC body of ``execute``);
- ``apismith``: APISmith's Arrow page as ``execute`` builds it now:
  ``PostgresDriver.fetch_arrow`` (a pooled ADBC session, parameters bound with the
  types PostgreSQL infers) and ``native_page_body``;
- ``adbc``: bare ``adbc_driver_postgresql`` ``fetch_arrow_table`` with the same startup
  parameters, numeric cast from PostgreSQL's text to decimal128 (vectorised), and the
  IPC stream written.

The database is dropped at the end.
"""

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import make_url

from apismith.drivers.base import BoundQuery, ColumnInfo, ConnectionOptions
from apismith.drivers.postgresql import PostgresDriver
from apismith.runtime.arrow import native_page_body, page_body

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PAGE_SQL = (
    "SELECT o_orderkey, o_totalprice, o_orderdate, o_comment, o_updated FROM orders"
    " WHERE o_orderkey > $1 ORDER BY o_orderkey LIMIT $2"
)
COLUMNS = [
    ColumnInfo("o_orderkey", "integer", True),
    ColumnInfo("o_totalprice", "number", True),
    ColumnInfo("o_orderdate", "date", True),
    ColumnInfo("o_comment", "string", True),
    ColumnInfo("o_updated", "timestamp", True),
]
METADATA = [{"name": c.name, "data_type": c.data_type, "nullable": c.nullable} for c in COLUMNS]
LOAD_SQL = """
CREATE TABLE orders (o_orderkey bigint PRIMARY KEY, o_totalprice numeric(15,2) NOT NULL,
  o_orderdate date NOT NULL, o_comment text NOT NULL, o_updated timestamptz NOT NULL);
INSERT INTO orders SELECT g, round((random() * 500000)::numeric, 2),
  date '1992-01-01' + (g % 2400), md5(g::text) || ' carefully final deposits',
  timestamptz '2024-01-01 00:00+00' + g * interval '1 minute'
FROM generate_series(1, {rows}) AS g;
ANALYZE orders;
"""


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms"


def _report(name: str, timings: list[tuple[float, float]], body: bytes) -> None:
    table = pa.ipc.open_stream(body).read_all()
    fetch, convert = zip(*timings, strict=True)
    total = [a + b for a, b in timings]
    print(
        f"{name:8} fetch {_median_ms(list(fetch))}, to Arrow IPC {_median_ms(list(convert))}, "
        f"total {_median_ms(total)} ({table.num_rows} rows, {len(body):,} bytes, "
        f"{[str(t) for t in table.schema.types]})"
    )


async def _timed_pages(
    name: str,
    url: str,
    rows: int,
    read: Callable[[PostgresDriver, BoundQuery], Awaitable[tuple[float, bytes]]],
) -> None:
    """Eight reads of the same page (the first two warm up): ``read`` fetches and encodes
    it, returning the moment the fetch ended and the body."""
    driver = PostgresDriver(url, ConnectionOptions())
    query = BoundQuery(PAGE_SQL, (0, rows + 1))
    timings, body = [], b""
    try:
        for run in range(8):
            started = time.perf_counter()
            fetched, body = await read(driver, query)
            if run >= 2:
                timings.append((fetched - started, time.perf_counter() - fetched))
    finally:
        await driver.close()
    _report(name, timings, body)


async def bench_asyncpg(url: str, rows: int) -> None:
    async def read(driver: PostgresDriver, query: BoundQuery) -> tuple[float, bytes]:
        records = await driver.fetch(query)
        fetched = time.perf_counter()
        return fetched, page_body(records[:rows], COLUMNS, UTC, columns_metadata=METADATA)

    await _timed_pages("asyncpg", url, rows, read)


async def bench_apismith(url: str, rows: int) -> None:
    async def read(driver: PostgresDriver, query: BoundQuery) -> tuple[float, bytes]:
        table = await driver.fetch_arrow(query)
        fetched = time.perf_counter()
        assert table is not None, "the page did not go through ADBC"
        body = native_page_body(table.slice(0, rows), COLUMNS, UTC, columns_metadata=METADATA)
        return fetched, body

    await _timed_pages("apismith", url, rows, read)


def _decimals(column: pa.ChunkedArray) -> pa.Array:
    """PostgreSQL numeric text (ADBC's opaque extension type) as decimal128(38, scale)."""
    text = column.combine_chunks()
    if isinstance(text, pa.ExtensionArray):
        text = text.storage
    dot = pc.find_substring(text, ".")
    scales = pc.if_else(pc.less(dot, 0), 0, pc.subtract(pc.subtract(pc.utf8_length(text), dot), 1))
    return text.cast(pa.decimal128(38, pc.max(scales).as_py() or 0))


def bench_adbc(url: str, rows: int) -> None:
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        print("adbc     skipped: uv run --with adbc-driver-postgresql python bench/arrow_page.py")
        return
    uri = f"{url}?options=-c%20default_transaction_read_only%3Don%20-c%20statement_timeout%3D30000"
    convert: list[Callable[[Any], pa.Array]] = [lambda c: c.combine_chunks()] * len(COLUMNS)
    convert[1] = _decimals
    timings, body = [], b""
    with adbc.connect(uri) as conn:
        for run in range(8):
            started = time.perf_counter()
            with conn.cursor() as cursor:
                cursor.execute(PAGE_SQL, (0, rows + 1))
                table = cursor.fetch_arrow_table().slice(0, rows)
            fetched = time.perf_counter()
            page = pa.table(
                [f(c) for f, c in zip(convert, table.columns, strict=True)],
                names=table.column_names,
            )
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, page.schema) as writer:
                writer.write_table(page)
            body = sink.getvalue().to_pybytes()
            if run >= 2:
                timings.append((fetched - started, time.perf_counter() - fetched))
    _report("adbc", timings, body)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    server = make_url(SERVER)
    name = f"bench_arrow_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    await admin.execute(f"CREATE DATABASE {name}")
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        loader = await asyncpg.connect(url)
        await loader.execute(LOAD_SQL.format(rows=rows + 1))
        await loader.close()
        await bench_asyncpg(url, rows)
        await bench_apismith(url, rows)
        bench_adbc(url, rows)
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
