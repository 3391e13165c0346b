"""The PostgreSQL driver against a real ERP-like database."""

import time
from contextlib import aclosing
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from apismith.drivers.base import (
    BoundQuery,
    ConnectionOptions,
    ErpQueryError,
    ErpTimeout,
    ErpUnreachable,
    RowLimitExceeded,
)
from apismith.drivers.postgresql import PostgresDriver, _init_connection
from bridge_core.db.engine import asyncpg_dsn

ROWS = 2_500
NAME = "Größe ½″ Schraube 测试 ÆØÅ"


@pytest.fixture(scope="module")
async def erp_url(create_database):
    url = await create_database("erp_pg")
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        await conn.execute(
            """
            CREATE TABLE parts (
                id bigint PRIMARY KEY,
                part_no text NOT NULL,
                name text,
                unit_price numeric(18, 6),
                weight double precision,
                active boolean,
                released date,
                changed_at timestamptz NOT NULL,
                created_local timestamp,
                drawing bytea,
                attrs jsonb,
                tags text[],
                ref uuid
            );
            INSERT INTO parts
            SELECT n, 'P-' || lpad(n::text, 5, '0'),
                   CASE WHEN n % 10 = 0 THEN NULL ELSE $1 || ' ' || n END,
                   CASE WHEN n % 7 = 0 THEN NULL ELSE 123456789012.123456 + n END,
                   n / 4.0, n % 2 = 0, date '2024-01-01' + n,
                   timestamptz '2024-03-01 12:00:00+02' + n * interval '1 minute',
                   timestamp '2024-03-01 08:30:00' + n * interval '1 second',
                   '\\x00ff'::bytea, jsonb_build_object('price', 0.1 + n), ARRAY['a', 'b'],
                   '0190f0d2-7d4c-7a48-9f0e-3c3f0a1b2c3d'
            FROM generate_series(1, 2500) AS n
            """.replace("$1", "'" + NAME + "'")
        )
    finally:
        await conn.close()
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def driver(erp_url):
    driver = PostgresDriver(erp_url, ConnectionOptions(statement_timeout_ms=5_000, pool_size=2))
    yield driver
    await driver.close()


async def test_ping_reports_the_server_version(driver):
    info = await driver.ping()
    assert info.server_version.startswith("PostgreSQL 1")
    assert info.latency_ms > 0


async def test_describe_maps_postgres_types(driver):
    columns = await driver.describe(BoundQuery("SELECT * FROM parts WHERE false"))
    assert [(c.name, c.data_type) for c in columns] == [
        ("id", "integer"),
        ("part_no", "string"),
        ("name", "string"),
        ("unit_price", "number"),
        ("weight", "number"),
        ("active", "boolean"),
        ("released", "date"),
        ("changed_at", "timestamp"),
        ("created_local", "timestamp"),
        ("drawing", "binary"),
        ("attrs", "json"),
        ("tags", "json"),
        ("ref", "string"),
    ]


async def test_stream_yields_bounded_chunks_of_every_row(driver):
    sizes = []
    ids = []
    async for chunk in driver.stream(
        BoundQuery("SELECT id FROM parts ORDER BY id"), chunk_rows=1000
    ):
        sizes.append(len(chunk))
        ids.extend(row[0] for row in chunk)
    assert sizes == [1000, 1000, 500]
    assert ids == list(range(1, ROWS + 1))


async def test_values_keep_their_exact_types(driver):
    rows = await driver.fetch(
        BoundQuery(
            "SELECT unit_price, changed_at, created_local, name, released, drawing, attrs, "
            "tags, ref FROM parts WHERE id = ANY($1::bigint[]) ORDER BY id",
            ([5, 7, 10],),
        )
    )
    price, changed_at, created_local, name, released, drawing, attrs, tags, ref = rows[0]
    assert price == Decimal("123456789017.123456")
    assert isinstance(price, Decimal)
    assert changed_at == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    assert changed_at.tzinfo is not None
    assert created_local == datetime(2024, 3, 1, 8, 30, 5)
    assert created_local.tzinfo is None
    assert name == f"{NAME} 5"
    assert released == date(2024, 1, 6)
    assert drawing == b"\x00\xff"
    assert attrs == {"price": Decimal("5.1")}
    assert tags == ["a", "b"]
    assert ref == "0190f0d2-7d4c-7a48-9f0e-3c3f0a1b2c3d"
    assert rows[1][0] is None  # id 7: NULL price
    assert rows[2][3] is None  # id 10: NULL name


async def test_statement_timeout_cancels_on_the_server(driver):
    start = time.monotonic()
    with pytest.raises(ErpTimeout) as caught:
        await driver.fetch(BoundQuery("SELECT pg_sleep(5)"), timeout_ms=200)
    assert time.monotonic() - start < 3
    assert "200 ms" in caught.value.detail
    assert caught.value.status_code == 504


async def test_writes_fail_in_the_read_only_transaction(driver, erp_url):
    with pytest.raises(ErpQueryError, match="read-only transaction"):
        await driver.fetch(
            BoundQuery("INSERT INTO parts (id, part_no, changed_at) VALUES (0, 'x', now())")
        )
    with pytest.raises(ErpQueryError, match="read-only transaction"):
        await driver.fetch(
            BoundQuery("WITH d AS (DELETE FROM parts RETURNING id) SELECT count(*) FROM d")
        )
    with pytest.raises(ErpQueryError, match="multiple commands"):
        await driver.fetch(BoundQuery("SELECT 1; DELETE FROM parts"))
    assert await driver.fetch(BoundQuery("SELECT count(*) FROM parts")) == [(ROWS,)]


async def test_a_page_gets_the_connections_own_timeout(erp_url):
    driver = PostgresDriver(erp_url, ConnectionOptions(statement_timeout_ms=200, pool_size=1))
    try:
        start = time.monotonic()
        with pytest.raises(ErpTimeout, match="200 ms"):
            await driver.fetch(BoundQuery("SELECT pg_sleep(5)"))
        assert time.monotonic() - start < 3
    finally:
        await driver.close()


async def test_a_query_cannot_loosen_the_session_for_the_next_one(erp_url):
    # one pooled connection: the second query runs on the session the first one changed
    driver = PostgresDriver(erp_url, ConnectionOptions(statement_timeout_ms=300, pool_size=1))
    try:
        await driver.fetch(
            BoundQuery(
                "SELECT set_config('default_transaction_read_only', 'off', false),"
                " set_config('statement_timeout', '0', false)"
            )
        )
        with pytest.raises(ErpQueryError, match="read-only transaction"):
            await driver.fetch(
                BoundQuery("INSERT INTO parts (id, part_no, changed_at) VALUES (0, 'x', now())")
            )
        with pytest.raises(ErpTimeout, match="300 ms"):
            await driver.fetch(BoundQuery("SELECT pg_sleep(5)"))
    finally:
        await driver.close()


async def test_query_errors_carry_the_database_message(driver):
    with pytest.raises(ErpQueryError, match='column "nope" does not exist') as caught:
        await driver.fetch(BoundQuery("SELECT nope FROM parts"))
    assert caught.value.status_code == 502


async def test_max_rows_stops_the_stream(erp_url):
    driver = PostgresDriver(erp_url, ConnectionOptions(max_rows=1_500))
    try:
        chunks = []

        async def read_all():
            async for chunk in driver.stream(BoundQuery("SELECT id FROM parts"), chunk_rows=1000):
                chunks.append(chunk)

        with pytest.raises(RowLimitExceeded, match="max_rows=1500"):
            await read_all()
        assert [len(c) for c in chunks] == [1000]
    finally:
        await driver.close()


async def test_an_abandoned_stream_gives_its_connection_back(erp_url):
    driver = PostgresDriver(erp_url, ConnectionOptions(pool_size=1))
    try:
        async with aclosing(
            driver.stream(BoundQuery("SELECT id FROM parts"), chunk_rows=10)
        ) as rows:
            async for _ in rows:
                break
        # the only pooled connection is free again and not left in a transaction
        assert await driver.fetch(BoundQuery("SELECT count(*) FROM parts")) == [(ROWS,)]
    finally:
        await driver.close()


async def test_unreachable_server_is_a_502_without_the_password():
    driver = PostgresDriver("postgresql://erp:S3cret-pw@127.0.0.1:1/erp", ConnectionOptions())
    start = time.monotonic()
    with pytest.raises(ErpUnreachable) as caught:
        await driver.ping()
    assert time.monotonic() - start < 5
    assert caught.value.status_code == 502
    assert "127.0.0.1:1/erp" in caught.value.detail
    assert "S3cret-pw" not in caught.value.detail
    await driver.close()


async def test_missing_database_is_unreachable(erp_url):
    missing = make_url(erp_url).set(database="no_such_database_here")
    driver = PostgresDriver(missing.render_as_string(hide_password=False), ConnectionOptions())
    with pytest.raises(ErpUnreachable, match="does not exist"):
        await driver.ping()
    await driver.close()


async def test_a_session_that_did_not_start_read_only_is_refused(erp_url):
    # what a pooler dropping the startup parameters leaves: the server's own defaults
    conn = await asyncpg.connect(erp_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        with pytest.raises(ErpQueryError, match="did not start read-only"):
            await _init_connection(conn)
    finally:
        await conn.close()
