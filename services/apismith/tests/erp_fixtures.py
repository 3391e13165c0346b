"""An ERP-like source database for APISmith's end-to-end tests, on PostgreSQL, SQLite and MariaDB.

Three tables, the same rows everywhere (generated here, deterministic):

- ``parts`` (60): exact decimals (``numeric(18,6)``), NULLs, naive timestamps,
  non-ASCII, quotes, commas and a line break in text.
- ``shop_orders`` (420): ties and NULLs in ``priority``, ``due_date``,
  ``released_at`` and ``rowversion`` (four rows share each rowversion).
- ``operations`` (300): a two-column key (``order_no``, ``op_no``).

SQLite has no exact decimal type: there the decimals are stored as text.

Fixtures (import them into a test folder's conftest): ``erp_postgres``,
``erp_sqlite``, ``erp_mysql`` (skipped unless ``APISMITH_TEST_MYSQL_URL`` is set)
and ``erp_source``, parametrized over all three. Helpers ``add_connection`` and
``add_api`` create them through APISmith's own endpoints.
"""

import os
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncmy
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bridge_core.db.engine import asyncpg_dsn

MYSQL_URL = os.environ.get("APISMITH_TEST_MYSQL_URL")

TEXTS = (
    "Schraube M8 – verzinkt",
    "Größe 12 Mutter",
    "部品 A",
    'O-Ring "NBR", 20×2',
    "Halter\nzweizeilig; DIN 125",
    "",
)

PART_COLUMNS = (
    "part_no",
    "description",
    "uom",
    "unit_cost",
    "weight_kg",
    "created_at",
    "rowversion",
)
ORDER_COLUMNS = (
    "order_no",
    "part_no",
    "status",
    "qty",
    "due_date",
    "released_at",
    "priority",
    "rowversion",
)
OPERATION_COLUMNS = ("order_no", "op_no", "work_center", "setup_hours", "run_hours", "rowversion")


def part_rows() -> list[tuple[Any, ...]]:
    rows = []
    for i in range(1, 61):
        unit_cost = Decimal(f"{i * 1234567}.{i:06d}")
        if i == 1:
            unit_cost = Decimal("0.000001")
        elif i == 2:
            unit_cost = Decimal("99999999999.999999")
        rows.append(
            (
                f"P-{i:04d}",
                None if i % 11 == 0 else f"{TEXTS[i % len(TEXTS)]}",
                ("ST", "KG", "M")[i % 3],
                unit_cost,
                None if i % 4 == 0 else (Decimal(i) / 8).quantize(Decimal("0.001")),
                datetime(2024, 3, 30, 8, 0) + timedelta(hours=7 * i),
                1000 + i // 2,
            )
        )
    return rows


def order_rows() -> list[tuple[Any, ...]]:
    statuses = ("Planned", "Released", "Started", "Closed", "Geprüft")
    return [
        (
            f"SO-{i:05d}",
            f"P-{i % 60 + 1:04d}",
            statuses[i % 5],
            Decimal(i % 17) + Decimal("0.125"),
            None if i % 13 == 0 else date(2024, 1, 1) + timedelta(days=i % 45),
            None if i % 3 == 0 else datetime(2024, 1, 1, 6, 0) + timedelta(minutes=37 * i),
            None if i % 7 == 0 else i % 4,
            5000 + i // 4,
        )
        for i in range(1, 421)
    ]


def operation_rows() -> list[tuple[Any, ...]]:
    centers = ("SAW", "MILL", "LATHE", "PAINT")
    return [
        (
            f"SO-{i:05d}",
            op,
            None if (i + op) % 9 == 0 else centers[(i + op // 10) % 4],
            Decimal(i % 5) + Decimal("0.25"),
            (Decimal(i * op) / Decimal(7000)).quantize(Decimal("0.0001")),
            9000 + (i * 3 + op // 10) // 5,
        )
        for i in range(1, 101)
        for op in (10, 20, 30)
    ]


TABLES: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {
    "parts": (PART_COLUMNS, part_rows()),
    "shop_orders": (ORDER_COLUMNS, order_rows()),
    "operations": (OPERATION_COLUMNS, operation_rows()),
}

_DDL = {
    "parts": """CREATE TABLE parts (
        part_no VARCHAR(20) PRIMARY KEY, description VARCHAR(200), uom VARCHAR(10) NOT NULL,
        unit_cost {decimal_18_6} NOT NULL, weight_kg {decimal_12_3},
        created_at {timestamp} NOT NULL, rowversion BIGINT NOT NULL)""",
    "shop_orders": """CREATE TABLE shop_orders (
        order_no VARCHAR(20) PRIMARY KEY, part_no VARCHAR(20) NOT NULL, status VARCHAR(20) NOT NULL,
        qty {decimal_12_3} NOT NULL, due_date DATE, released_at {timestamp}, priority INTEGER,
        rowversion BIGINT NOT NULL)""",
    "operations": """CREATE TABLE operations (
        order_no VARCHAR(20) NOT NULL, op_no INTEGER NOT NULL, work_center VARCHAR(20),
        setup_hours {decimal_8_2} NOT NULL, run_hours {decimal_10_4} NOT NULL,
        rowversion BIGINT NOT NULL, PRIMARY KEY (order_no, op_no))""",
}

_TYPES = {
    "postgresql": {
        "decimal_18_6": "NUMERIC(18,6)",
        "decimal_12_3": "NUMERIC(12,3)",
        "decimal_8_2": "NUMERIC(8,2)",
        "decimal_10_4": "NUMERIC(10,4)",
        "timestamp": "TIMESTAMP",
    },
    "mysql": {
        "decimal_18_6": "DECIMAL(18,6)",
        "decimal_12_3": "DECIMAL(12,3)",
        "decimal_8_2": "DECIMAL(8,2)",
        "decimal_10_4": "DECIMAL(10,4)",
        "timestamp": "DATETIME(6)",
    },
    # no exact decimals in SQLite: text keeps every digit
    "sqlite": {
        "decimal_18_6": "TEXT",
        "decimal_12_3": "TEXT",
        "decimal_8_2": "TEXT",
        "decimal_10_4": "TEXT",
        "timestamp": "TEXT",
    },
}


def ddl(dialect: str) -> list[str]:
    return [statement.format(**_TYPES[dialect]) for statement in _DDL.values()]


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


@dataclass(frozen=True)
class ErpSource:
    """An ERP database loaded with the tables above: its dialect, its URL, direct queries."""

    dialect: str
    url: str

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` read directly with the database's own driver (no APISmith)."""
        if self.dialect == "postgresql":
            conn = await asyncpg.connect(**asyncpg_dsn(make_url(self.url)))
            try:
                return [tuple(record) for record in await conn.fetch(sql)]
            finally:
                await conn.close()
        if self.dialect == "sqlite":
            conn = sqlite3.connect(make_url(self.url).database)
            try:
                return list(conn.execute(sql).fetchall())
            finally:
                conn.close()
        conn = await _mysql_connect(self.url)
        try:
            async with conn.cursor() as cursor:
                await cursor.execute(sql)
                return list(await cursor.fetchall())
        finally:
            conn.close()

    async def scalar(self, sql: str) -> Any:
        return (await self.rows(sql))[0][0]


async def _mysql_connect(url: str) -> Any:
    parsed = make_url(url)
    return await asyncmy.connect(
        host=parsed.host,
        port=parsed.port or 3306,
        user=parsed.username,
        password=parsed.password or "",
        database=parsed.database,
        charset="utf8mb4",
        autocommit=True,
    )


def _insert_sql(table: str, columns: Sequence[str], marker: str) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(marker.format(n=n + 1) for n in range(len(columns)))})"
    )


async def load_postgres(url: str) -> None:
    conn = await asyncpg.connect(**asyncpg_dsn(make_url(url)))
    try:
        for statement in ddl("postgresql"):
            await conn.execute(statement)
        for table, (columns, rows) in TABLES.items():
            await conn.executemany(_insert_sql(table, columns, "${n}"), rows)
    finally:
        await conn.close()


def load_sqlite(path: str) -> None:
    conn = sqlite3.connect(path)
    try:
        for statement in ddl("sqlite"):
            conn.execute(statement)
        for table, (columns, rows) in TABLES.items():
            conn.executemany(
                _insert_sql(table, columns, "?"),
                [tuple(_sqlite_value(value) for value in row) for row in rows],
            )
        conn.commit()
    finally:
        conn.close()


async def load_mysql(url: str) -> None:
    conn = await _mysql_connect(url)
    try:
        async with conn.cursor() as cursor:
            for statement in ddl("mysql"):
                await cursor.execute(statement)
            for table, (columns, rows) in TABLES.items():
                await cursor.executemany(_insert_sql(table, columns, "%s"), rows)
    finally:
        conn.close()


@pytest.fixture(scope="session")
async def erp_postgres(create_database) -> ErpSource:
    url = (await create_database("erp")).render_as_string(hide_password=False)
    await load_postgres(url)
    return ErpSource("postgresql", url.replace("postgresql+asyncpg://", "postgresql://"))


@pytest.fixture(scope="session")
def erp_sqlite(tmp_path_factory) -> ErpSource:
    path = tmp_path_factory.mktemp("erp") / "erp.db"
    load_sqlite(str(path))
    return ErpSource("sqlite", f"sqlite:///{path}")


@pytest.fixture(scope="session")
async def erp_mysql():
    if not MYSQL_URL:
        pytest.skip("APISMITH_TEST_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)")
    name = f"t_erp_{uuid.uuid4().hex[:8]}"
    admin = await _mysql_connect(MYSQL_URL)
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        url = make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)
        await load_mysql(url)
        yield ErpSource("mysql", url)
        async with admin.cursor() as cursor:
            await cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        admin.close()


@pytest.fixture(params=["postgres", "sqlite", "mysql"])
def erp_source(request) -> ErpSource:
    """Each loaded ERP source in turn (MariaDB only when APISMITH_TEST_MYSQL_URL is set)."""
    source: ErpSource = request.getfixturevalue(f"erp_{request.param}")
    return source


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def add_connection(client, headers, source: ErpSource, **options: Any) -> dict[str, Any]:
    """A stored connection to ``source`` (created through ``POST /connections``)."""
    response = await client.post(
        "/api/v1/connections",
        json={
            "name": unique(source.dialect),
            "dialect": source.dialect,
            "url": source.url,
            "options": options,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def add_api(
    client, headers, connection: dict[str, Any], sql: str, **fields: Any
) -> dict[str, Any]:
    """A saved API (``POST /apis``) on ``connection``; the slug is unique unless given."""
    body = {
        "slug": unique("api"),
        "name": "test API",
        "connection_uid": connection["uid"],
        "sql": sql,
        **fields,
    }
    response = await client.post("/api/v1/apis", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())
