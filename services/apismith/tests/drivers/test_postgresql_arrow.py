"""PostgreSQL pages as native Arrow (ADBC) against a real database: the same page as
asyncpg's, the session's guards, the pool's bounds, and where it falls back."""

import asyncio
import time
from datetime import UTC
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
import pyarrow as pa
import pytest
from sqlglot import parse_one

from apismith.drivers import postgresql
from apismith.drivers.base import (
    ARROW_TEXT_KIND,
    BoundQuery,
    ConnectionOptions,
    Dialect,
    ErpQueryError,
    ErpTimeout,
)
from apismith.drivers.postgresql import PostgresDriver
from apismith.runtime.arrow import native_page_body, page_body
from apismith.runtime.arrow_native import native_row
from apismith.sql.render import render_sql
from bridge_core.db.engine import asyncpg_dsn

# every type the Arrow tests cover, with NULLs, edge values and both DST changes
TYPES_SQL = """
SELECT id, small, flag, day, local_at, instant, clock, raw, label, padded, doc, plain_doc,
       amount, ratio, single, loose
FROM (VALUES
  (1::bigint, 1::int2, true, date '2024-02-29', timestamp '2024-10-27 02:30:00',
   timestamptz '2024-07-01 08:00:00.123456+02', time '13:45:00.000005', '\\x00ff'::bytea,
   'Größe 12 – 部品 "A"', 'ab'::char(4), '{"price": 1.10, "tags": ["ü", null]}'::jsonb,
   '{"a" : 1e2}'::json, 123456789012345678.12345678901234567890::numeric(38, 20),
   '-0'::float8, 1.5::float4, 2.5::numeric),
  (2, -32768, false, date '0001-01-01', timestamp '2024-03-31 02:30:00',
   timestamptz '1999-12-31 23:59:59.999999-05', time '00:00:00', ''::bytea,
   '', '', '[]'::jsonb, 'null'::json, 0.10000000000000000000::numeric(38, 20),
   'NaN'::float8, '-Infinity'::float4, 7.125::numeric),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   '-0.00'::numeric),
  ('-9223372036854775808'::bigint, 32767, true, date '9999-12-31',
   timestamp '2024-01-01 00:00:00', timestamptz '2024-01-01 00:00:00+00',
   time '23:59:59.999999', '\\xdeadbeef'::bytea, 'Halter' || chr(10) || 'zweizeilig', 'x',
   '"ü"'::jsonb, '1.000'::json, -99999999999999999.99999999999999999999::numeric(38, 20),
   1e300::float8, 0.1::float4, 10::numeric)
) AS t(id, small, flag, day, local_at, instant, clock, raw, label, padded, doc, plain_doc,
       amount, ratio, single, loose)
WHERE id <> $1
ORDER BY id
"""


@pytest.fixture(scope="module")
async def erp_url(create_database):
    url = await create_database("erp_pg_arrow")
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        await conn.execute(
            "CREATE TABLE parts (id bigint PRIMARY KEY, price numeric(12, 2), tags text[],"
            " ref uuid, span interval);"
            " INSERT INTO parts SELECT n, n / 8.0, ARRAY['a'], gen_random_uuid(),"
            " n * interval '1 hour' FROM generate_series(1, 50) AS n"
        )
    finally:
        await conn.close()
    return url.render_as_string(hide_password=False).replace(
        "postgresql+asyncpg://", "postgresql://"
    )


async def _backends(url: str, like: str) -> int:
    """Sessions of the test database whose current query contains ``like``."""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE $1",
            f"%{like}%",
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("zone", [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")])
async def test_the_native_page_is_the_asyncpg_page_value_for_value(erp_url, zone):
    driver = PostgresDriver(erp_url, ConnectionOptions())
    query = BoundQuery(TYPES_SQL, (99,))
    try:
        columns = await driver.describe(query)
        rows = await driver.fetch(query)
        native = await driver.fetch_arrow(query)
    finally:
        await driver.close()

    assert native is not None  # every one of these types goes through ADBC
    metadata = [{"name": c.name} for c in columns]
    via_rows = page_body(rows, columns, zone, columns_metadata=metadata)
    via_adbc = native_page_body(native, columns, zone, columns_metadata=metadata)
    assert via_adbc == via_rows  # the same IPC bytes: schema, types, every value
    got = pa.ipc.open_stream(via_adbc).read_all()
    assert got.num_rows == 4
    assert got.schema.field("amount").type == pa.decimal128(38, 20)
    # the cursor's values: each row as asyncpg reads it (NaN equal to NaN)
    for index, row in enumerate(rows):
        for got_value, value in zip(native_row(native, index), row, strict=True):
            assert got_value == value or (got_value != got_value and value != value)
            assert type(got_value) is type(value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT n FROM (VALUES ('NaN'::numeric), (1.50), (NULL)) AS t(n)",
        "SELECT n FROM (VALUES ('Infinity'::numeric), ('-Infinity'::numeric)) AS t(n)",
        "SELECT 1e40::numeric AS n UNION ALL SELECT 1.5",
        "SELECT 0.000000000000000000000000000000000000001::numeric AS n",
        "SELECT NULL::numeric AS n",
        "SELECT NULL::float8 AS n",
        "SELECT n FROM (VALUES (99999999999999999999999999999999999999::numeric)) AS t(n)",
    ],
)
async def test_numbers_follow_the_same_rule(erp_url, sql):
    driver = PostgresDriver(erp_url, ConnectionOptions())
    try:
        columns = await driver.describe(BoundQuery(sql))
        rows = await driver.fetch(BoundQuery(sql))
        native = await driver.fetch_arrow(BoundQuery(sql))
    finally:
        await driver.close()

    assert native is not None
    expected = pa.ipc.open_stream(page_body(rows, columns, UTC, columns_metadata=[])).read_all()
    got = pa.ipc.open_stream(native_page_body(native, columns, UTC, columns_metadata=[]))
    got_table = got.read_all()
    assert got_table.schema == expected.schema
    assert got_table.to_pylist() == expected.to_pylist()


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT tags FROM parts", ()),  # arrays: lists in asyncpg, lists of ADBC's types
        ("SELECT ref FROM parts", ()),  # uuid, interval: asyncpg reads PostgreSQL's text
        ("SELECT span FROM parts", ()),
        ("SELECT 'infinity'::date AS d", ()),  # asyncpg: date.max
        ("SELECT 'infinity'::timestamp AS t", ()),
        ("SELECT id FROM parts WHERE price = $1", (Decimal("1.50"),)),  # ADBC sends 1.5
        ("SELECT id FROM parts WHERE id::text::char(4) = $1", ("1 ",)),  # inferred bpchar
    ],
)
async def test_what_adbc_cannot_read_exactly_goes_the_asyncpg_way(erp_url, sql, params):
    driver = PostgresDriver(erp_url, ConnectionOptions(pool_size=1))
    try:
        assert await driver.fetch_arrow(BoundQuery(sql, params)) is None
        # the session is still good for the next page
        assert (await driver.fetch_arrow(BoundQuery("SELECT 1::int AS one"))).num_rows == 1
        assert driver._arrow is not None
        assert driver._arrow.open_sessions == 1
    finally:
        await driver.close()


async def test_a_column_whose_type_changed_is_read_with_its_new_type(erp_url):
    """An ``ALTER TABLE ... TYPE`` after a page was planned: the next page is not cast
    with the old types (it goes the asyncpg way), and the one after is planned again."""
    conn = await asyncpg.connect(erp_url)
    try:
        await conn.execute(
            "CREATE TABLE altered AS SELECT n AS id, n / 8.0 AS price FROM generate_series(1, 3) n"
        )
        driver = PostgresDriver(erp_url, ConnectionOptions(pool_size=1))
        query = BoundQuery("SELECT id, price FROM altered ORDER BY id")
        try:
            before = await driver.fetch_arrow(query)
            await conn.execute("ALTER TABLE altered ALTER COLUMN price TYPE text")
            changed = await driver.fetch_arrow(query)
            rows = await driver.fetch(query)
            after = await driver.fetch_arrow(query)
        finally:
            await driver.close()
    finally:
        await conn.close()
    assert before is not None
    assert before.schema.field("price").metadata == {ARROW_TEXT_KIND: b"decimal"}
    assert changed is None
    assert [row[1] for row in rows] == [
        "0.12500000000000000000",
        "0.25000000000000000000",
        "0.37500000000000000000",
    ]
    assert after is not None
    assert after.column("price").to_pylist() == [row[1] for row in rows]
    assert after.schema.field("price").metadata is None


async def test_a_compared_decimal_keeps_the_page_native_whatever_its_scale(erp_url):
    """A keyset or filter value is only compared: 1.50 sent as 1.5 finds the same rows,
    so the page stays on ADBC (a saved query's own 1.50 could be shown: asyncpg)."""
    driver = PostgresDriver(erp_url, ConnectionOptions(pool_size=1))
    sql = "SELECT id FROM parts WHERE price >= $1 ORDER BY id"
    try:
        compared = await driver.fetch_arrow(BoundQuery(sql, (Decimal("0.50"),), frozenset({0})))
        rows = await driver.fetch(BoundQuery(sql, (Decimal("0.50"),)))
        shown = await driver.fetch_arrow(BoundQuery(sql, (Decimal("0.50"),)))
    finally:
        await driver.close()
    assert compared is not None
    assert compared.column("id").to_pylist() == [row[0] for row in rows]
    assert shown is None


def test_generated_values_are_the_compared_ones():
    rendered = render_sql(
        parse_one("SELECT a FROM t WHERE b = :p AND c > :_v1", dialect="postgres"),
        Dialect.POSTGRESQL,
        {"p", "_v1"},
    )
    assert rendered.bind({"p": 1, "_v1": 2}).compared == frozenset({1})


async def test_parameters_are_bound_with_the_types_postgresql_infers(erp_url):
    driver = PostgresDriver(erp_url, ConnectionOptions())
    sql = "SELECT id, price FROM parts WHERE id > $1 AND price >= $2 ORDER BY id LIMIT 3"
    try:
        native = await driver.fetch_arrow(BoundQuery(sql, (2, Decimal("0.5"))))
        injected = await driver.fetch_arrow(
            BoundQuery("SELECT id FROM parts WHERE id::text = $1", ("1 OR 1=1",))
        )
    finally:
        await driver.close()
    assert native is not None
    assert native.column("id").to_pylist() == [4, 5, 6]
    assert injected is not None
    assert injected.num_rows == 0


async def test_the_session_is_read_only_and_a_query_cannot_loosen_the_next(erp_url):
    driver = PostgresDriver(erp_url, ConnectionOptions(statement_timeout_ms=300, pool_size=1))
    try:
        with pytest.raises(ErpQueryError, match="read-only transaction"):
            await driver.fetch_arrow(
                BoundQuery("WITH d AS (DELETE FROM parts RETURNING id) SELECT id FROM d")
            )
        await driver.fetch_arrow(
            BoundQuery(
                "SELECT set_config('default_transaction_read_only', 'off', false) AS a,"
                " set_config('statement_timeout', '0', false) AS b"
            )
        )
        with pytest.raises(ErpQueryError, match="read-only transaction"):
            await driver.fetch_arrow(
                BoundQuery("WITH d AS (DELETE FROM parts RETURNING id) SELECT id FROM d")
            )
        start = time.monotonic()
        with pytest.raises(ErpTimeout, match="300 ms") as caught:
            await driver.fetch_arrow(BoundQuery("SELECT 1 AS x FROM pg_sleep(5)"))
        assert time.monotonic() - start < 3
        assert caught.value.status_code == 504
        assert driver._arrow is not None
        assert driver._arrow.open_sessions <= 1
    finally:
        await driver.close()
    assert await driver.fetch(BoundQuery("SELECT count(*) FROM parts")) == [(50,)]
    await driver.close()


async def test_errors_read_as_on_the_asyncpg_path(erp_url):
    driver = PostgresDriver(erp_url, ConnectionOptions())
    try:
        with pytest.raises(ErpQueryError) as by_asyncpg:
            await driver.fetch(BoundQuery("SELECT nope FROM parts"))
        with pytest.raises(ErpQueryError) as by_adbc:
            await driver.fetch_arrow(BoundQuery("SELECT nope FROM parts"))
        with pytest.raises(ErpQueryError, match="max_rows=10"):
            await PostgresDriver(erp_url, ConnectionOptions(max_rows=10)).fetch_arrow(
                BoundQuery("SELECT id FROM parts")
            )
    finally:
        await driver.close()
    assert by_adbc.value.detail == by_asyncpg.value.detail
    assert by_adbc.value.status_code == 502


async def test_the_pool_is_bounded_and_idle_sessions_close(erp_url, monkeypatch):
    monkeypatch.setattr(postgresql, "IDLE_CONNECTION_S", 0.5)
    driver = PostgresDriver(erp_url, ConnectionOptions(pool_size=2))
    query = BoundQuery("SELECT 1 AS x FROM pg_sleep(0.3) /* bounded */")
    try:
        start = time.monotonic()
        pages = asyncio.gather(*(driver.fetch_arrow(query) for _ in range(6)))
        await asyncio.sleep(0.15)
        assert await _backends(erp_url, "bounded") <= 2
        assert all(page is not None for page in await pages)
        assert time.monotonic() - start >= 0.85  # three rounds of two
        assert driver._arrow is not None
        assert driver._arrow.open_sessions == 2
        await asyncio.sleep(1.2)
        assert driver._arrow.open_sessions == 0
    finally:
        await driver.close()


async def test_a_cancelled_request_stops_its_query(erp_url):
    driver = PostgresDriver(erp_url, ConnectionOptions(pool_size=1))
    try:
        task = asyncio.create_task(
            driver.fetch_arrow(BoundQuery("SELECT 1 AS x FROM pg_sleep(30) /* abandoned */"))
        )
        await asyncio.sleep(0.5)
        assert await _backends(erp_url, "abandoned") == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(20):
            if await _backends(erp_url, "abandoned") == 0:
                break
            await asyncio.sleep(0.1)
        assert await _backends(erp_url, "abandoned") == 0
        # the slot came back: the only session can be opened again
        page = await asyncio.wait_for(driver.fetch_arrow(BoundQuery("SELECT 1 AS x")), 5)
        assert page is not None
        assert page.num_rows == 1
    finally:
        await driver.close()
