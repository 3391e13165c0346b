"""The MySQL driver against a real MariaDB (or MySQL) server: APISMITH_TEST_MYSQL_URL."""

import os
import time
import uuid
from contextlib import aclosing
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from decimal import Decimal

import asyncmy
import pytest
from sqlalchemy.engine import make_url

from apismith.drivers.base import (
    BoundQuery,
    ConnectionOptions,
    ErpQueryError,
    ErpTimeout,
    ErpUnreachable,
)
from apismith.drivers.mysql import MysqlDriver, timeout_statement

MYSQL_URL = os.environ.get("APISMITH_TEST_MYSQL_URL")
ROWS = 2_500
NAME = "Größe ½″ Schraube 测试 ÆØÅ"

needs_mysql = pytest.mark.skipif(
    not MYSQL_URL,
    reason="APISMITH_TEST_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)",
)


@pytest.fixture(scope="module")
async def parts_table():
    """A populated ``parts_<random>`` table in the test database; dropped afterwards."""
    url = make_url(MYSQL_URL)
    table = f"parts_{uuid.uuid4().hex[:8]}"
    conn = await asyncmy.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=url.database,
        charset="utf8mb4",
        autocommit=True,
    )
    try:
        async with conn.cursor() as cursor:
            await cursor.execute("SET time_zone = '+00:00'")
            await cursor.execute(
                f"""
                CREATE TABLE {table} (
                    id BIGINT PRIMARY KEY,
                    part_no VARCHAR(20) NOT NULL,
                    name VARCHAR(200) CHARACTER SET utf8mb4,
                    unit_price DECIMAL(18, 6),
                    weight DOUBLE,
                    released DATE,
                    changed_at TIMESTAMP(6) NULL,
                    created_local DATETIME(6),
                    shift_start TIME,
                    drawing BLOB,
                    notes TEXT
                )
                """
            )
            await cursor.executemany(
                f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        n,
                        f"P-{n:05}",
                        None if n % 10 == 0 else f"{NAME} {n}",
                        None if n % 7 == 0 else Decimal("123456789012.123456") + n,
                        n / 4,
                        date(2024, 1, 1),
                        datetime(2024, 3, 1, 10, 0, n % 60),
                        datetime(2024, 3, 1, 8, 30, n % 60),
                        "07:30:00",
                        b"\x00\xff",
                        "note",
                    )
                    for n in range(1, ROWS + 1)
                ],
            )
        yield table
        async with conn.cursor() as cursor:
            await cursor.execute(f"DROP TABLE {table}")
    finally:
        conn.close()


@pytest.fixture
async def driver():
    driver = MysqlDriver(MYSQL_URL, ConnectionOptions(statement_timeout_ms=5_000, pool_size=2))
    yield driver
    await driver.close()


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("5.5.5-10.11.19-MariaDB-0+deb12u1", "SET SESSION max_statement_time = 1.500"),
        ("11.4.2-MariaDB", "SET SESSION max_statement_time = 1.500"),
        ("8.0.36", "SET SESSION max_execution_time = 1500"),
        ("8.4.0-commercial", "SET SESSION max_execution_time = 1500"),
    ],
)
def test_timeout_statement_follows_the_server_flavour(version, expected):
    assert timeout_statement(version, 1500) == expected


@needs_mysql
async def test_ping_reports_the_server_version(driver):
    info = await driver.ping()
    assert info.server_version.startswith(("MariaDB ", "MySQL "))
    assert info.latency_ms > 0


@needs_mysql
async def test_describe_maps_mysql_types(driver, parts_table):
    columns = await driver.describe(BoundQuery(f"SELECT * FROM {parts_table} WHERE 1 = 0"))
    assert [(c.name, c.data_type, c.nullable) for c in columns] == [
        ("id", "integer", False),
        ("part_no", "string", False),
        ("name", "string", True),
        ("unit_price", "number", True),
        ("weight", "number", True),
        ("released", "date", True),
        ("changed_at", "timestamp", True),
        ("created_local", "timestamp", True),
        ("shift_start", "time", True),
        ("drawing", "binary", True),
        ("notes", "string", True),
    ]


@needs_mysql
async def test_stream_yields_bounded_chunks_of_every_row(driver, parts_table):
    sizes = []
    ids = []
    query = BoundQuery(f"SELECT id FROM {parts_table} ORDER BY id")
    async for chunk in driver.stream(query, chunk_rows=1000):
        sizes.append(len(chunk))
        ids.extend(row[0] for row in chunk)
    assert sizes == [1000, 1000, 500]
    assert ids == list(range(1, ROWS + 1))


@needs_mysql
async def test_values_keep_their_exact_types(driver, parts_table):
    rows = await driver.fetch(
        BoundQuery(
            f"SELECT unit_price, changed_at, created_local, shift_start, name, drawing "
            f"FROM {parts_table} WHERE id IN (%s, %s, %s) ORDER BY id",
            (5, 7, 10),
        )
    )
    price, changed_at, created_local, shift_start, name, drawing = rows[0]
    assert price == Decimal("123456789017.123456")
    assert isinstance(price, Decimal)
    assert changed_at == datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)
    assert created_local == datetime(2024, 3, 1, 8, 30, 5)
    assert created_local.tzinfo is None
    assert shift_start == time_of_day(7, 30)
    assert name == f"{NAME} 5"
    assert drawing == b"\x00\xff"
    assert rows[1][0] is None
    assert rows[2][4] is None


@needs_mysql
async def test_statement_timeout_cancels_on_the_server(driver):
    start = time.monotonic()
    with pytest.raises(ErpTimeout, match="1000 ms"):
        await driver.fetch(BoundQuery("SELECT SLEEP(5)"), timeout_ms=1_000)
    assert time.monotonic() - start < 4
    # the session's next statement gets the default timeout again
    assert await driver.fetch(BoundQuery("SELECT 1")) == [(1,)]


@needs_mysql
async def test_writes_fail_in_the_read_only_transaction(driver, parts_table):
    with pytest.raises(ErpQueryError, match="READ ONLY"):
        await driver.fetch(BoundQuery(f"DELETE FROM {parts_table}"))
    assert await driver.fetch(BoundQuery(f"SELECT count(*) FROM {parts_table}")) == [(ROWS,)]


@needs_mysql
async def test_query_errors_carry_the_database_message(driver, parts_table):
    with pytest.raises(ErpQueryError, match="Unknown column 'nope'"):
        await driver.fetch(BoundQuery(f"SELECT nope FROM {parts_table}"))


@needs_mysql
async def test_an_abandoned_stream_does_not_read_the_rest(parts_table):
    driver = MysqlDriver(MYSQL_URL, ConnectionOptions(pool_size=1))
    try:
        query = BoundQuery(f"SELECT a.id FROM {parts_table} a CROSS JOIN {parts_table} b")
        start = time.monotonic()
        async with aclosing(driver.stream(query, chunk_rows=100)) as chunks:
            async for chunk in chunks:
                assert len(chunk) == 100
                break
        # 6.25 million rows were left unread: the connection was dropped, not drained
        assert time.monotonic() - start < 3
        assert await driver.fetch(BoundQuery("SELECT 1")) == [(1,)]
    finally:
        await driver.close()


@needs_mysql
async def test_wrong_password_is_unreachable_without_the_password():
    url = make_url(MYSQL_URL).set(password="Wr0ng-S3cret")
    driver = MysqlDriver(url.render_as_string(hide_password=False), ConnectionOptions())
    with pytest.raises(ErpUnreachable, match="Access denied") as caught:
        await driver.ping()
    assert "Wr0ng-S3cret" not in caught.value.detail
    await driver.close()


async def test_closed_port_is_unreachable_quickly():
    driver = MysqlDriver("mysql://erp:S3cret-pw@127.0.0.1:1/erp", ConnectionOptions())
    start = time.monotonic()
    with pytest.raises(ErpUnreachable) as caught:
        await driver.ping()
    assert time.monotonic() - start < 5
    assert "127.0.0.1:1/erp" in caught.value.detail
    assert "S3cret-pw" not in caught.value.detail
    await driver.close()
