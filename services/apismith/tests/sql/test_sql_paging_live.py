"""Keyset paging against real databases: every row exactly once, in order, NULLs and ties included.

A table with ties and NULLs in every sort column is paged with small page sizes
through signed cursors, under several sorts and filters. The pages, joined, must
equal both the stream query's rows and an independent Python reference (filter,
then sort with NULL as the largest value), and the count query must agree.
PostgreSQL (asyncpg), SQLite (sqlite3) and MariaDB (asyncmy) run here.
"""

import os
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import asyncmy
import asyncpg
import pytest

from apismith.drivers.base import ColumnInfo, Dialect
from apismith.sql import (
    Filter,
    SortKey,
    build_count_query,
    build_describe_query,
    build_null_tail_query,
    build_page_query,
    build_stream_query,
    cursor_fingerprint,
    decode_cursor,
    encode_cursor,
    null_tail_follows,
    resolve_order,
    validate_select,
)
from bridge_core.db.engine import asyncpg_dsn

SECRET = "live-paging-secret"
PAGE_SIZES = (1, 3, 10)
LABEL, ORDER = "Item Label", "order"  # a name with a space and capitals, and a reserved word


def make_rows():
    """57 rows with ties and NULLs in every column but id; one row the saved query filters out."""
    rows = []
    for i in range(1, 58):
        rows.append(
            (
                i,
                None if i % 7 == 0 else i % 4,
                None if i % 5 == 0 else ("alpha", "beta", "gamma")[i % 3],
                None if i % 6 == 0 else Decimal(i % 5) + Decimal("0.25"),
                None if i % 9 == 0 else datetime(2024, 1, 1) + timedelta(hours=i % 4),
                None if i % 4 == 0 else i % 3,
            )
        )
    rows.append((58, 1, "zzz hidden", Decimal("1.25"), datetime(2024, 1, 1), 1))
    return rows


def saved_sql(quote):
    q = quote
    return (
        "WITH base AS (SELECT * FROM {table} WHERE id >= :min_id AND id < :min_id + 1000) "
        f"SELECT id, grp, name AS {q}{LABEL}{q}, amount, created, {q}{ORDER}{q} FROM base "
        "WHERE name IS NULL OR name NOT LIKE '%zzz%'"
    )


@dataclass
class Scenario:
    name: str
    sort: list[SortKey]
    filters: list[Filter] = field(default_factory=list)
    keep: object = staticmethod(lambda row: True)  # the filters, in Python
    business_keys: tuple[str, ...] = ("id",)
    rowversion: str | None = None


COLUMN_NAMES = ["id", "grp", LABEL, "amount", "created", ORDER]

SCENARIOS = [
    Scenario("default order", []),
    Scenario("nullable int asc", [SortKey("grp")]),
    Scenario(
        "decimal desc, label asc, grp in",
        [SortKey("amount", "desc"), SortKey(LABEL)],
        [Filter("grp", "in", [1, 2, 3])],
        lambda row: row["grp"] in (1, 2, 3),
    ),
    Scenario(
        "timestamp desc, grp desc, label ne (NULLs kept)",
        [SortKey("created", "desc"), SortKey("grp", "desc")],
        [Filter(LABEL, "ne", "beta")],
        lambda row: row[LABEL] != "beta",
    ),
    Scenario(
        "label asc, amount gte, created not_null",
        [SortKey(LABEL)],
        [Filter("amount", "gte", "1.25"), Filter("created", "not_null")],
        lambda row: (
            row["amount"] is not None and row["amount"] >= 1.25 and row["created"] is not None
        ),
    ),
    Scenario(
        "reserved word desc, like",
        [SortKey(ORDER, "desc")],
        [Filter(LABEL, "like", "a%")],
        lambda row: row[LABEL] is not None and row[LABEL].startswith("a"),
    ),
    Scenario(
        "rowversion default, between",
        [],
        [Filter("amount", "between", ["0.25", "3.25"])],
        lambda row: row["amount"] is not None and 0.25 <= row["amount"] <= 3.25,
        rowversion="created",
    ),
    Scenario(
        "three keys mixed, not_in",
        [SortKey("grp"), SortKey("amount"), SortKey(LABEL, "desc")],
        [Filter("id", "not_in", [4, 5, 6])],
        lambda row: row["id"] not in (4, 5, 6),
    ),
]


def reference(rows, scenario, order):
    """The expected rows: filtered, then sorted key by key with NULL as the largest value."""
    dicts = [dict(zip(COLUMN_NAMES, row, strict=True)) for row in rows]
    kept = [row for row in dicts if scenario.keep(row)]
    for key in reversed(order.keys):
        kept.sort(
            key=lambda row, name=key.field: (
                row[name] is None,
                row[name] if row[name] is not None else 0,
            ),
            reverse=key.direction == "desc",
        )
    return [tuple(row[name] for name in COLUMN_NAMES) for row in kept]


async def check_paging(fetch, dialect, quote, table, columns):
    """Page through every scenario and page size on one database."""
    query = validate_select(saved_sql(quote).format(table=table), dialect)
    params = {"min_id": 3}
    assert await fetch(build_describe_query(query, params=params)) == []
    everything = await fetch(
        build_stream_query(
            query,
            columns=columns,
            params=params,
            filters=[],
            order=resolve_order(sort=[], columns=columns),
        )
    )
    assert len(everything) == 55  # ids 3..57; the zzz row is filtered by the saved query
    for scenario in SCENARIOS:
        order = resolve_order(
            sort=scenario.sort,
            columns=columns,
            business_keys=scenario.business_keys,
            rowversion_column=scenario.rowversion,
        )
        expected = reference(everything, scenario, order)
        assert len(expected) > 10, scenario.name
        streamed = await fetch(
            build_stream_query(
                query, columns=columns, params=params, filters=scenario.filters, order=order
            )
        )
        assert streamed == expected, scenario.name
        (count,) = (
            await fetch(
                build_count_query(query, columns=columns, params=params, filters=scenario.filters)
            )
        )[0]
        assert count == len(expected), scenario.name
        fingerprint = cursor_fingerprint(
            api_uid="live", api_version=1, params=params, filters=scenario.filters, order=order
        )
        for size in PAGE_SIZES:
            pages = await read_all_pages(
                fetch, query, columns, params, scenario, order, size, fingerprint
            )
            assert pages == expected, f"{scenario.name}, page size {size}"


async def read_all_pages(fetch, query, columns, params, scenario, order, size, fingerprint):
    collected, cursor = [], None
    for _ in range(200):
        after = decode_cursor(cursor, secret=SECRET, fingerprint=fingerprint) if cursor else None
        rows = await fetch(
            build_page_query(
                query,
                columns=columns,
                params=params,
                filters=scenario.filters,
                order=order,
                page_size=size,
                after=after,
            )
        )
        # as the runtime does: a short page goes on with the rows whose first key is NULL
        if after is not None and len(rows) <= size and null_tail_follows(order, after):
            rows += await fetch(
                build_null_tail_query(
                    query,
                    columns=columns,
                    params=params,
                    filters=scenario.filters,
                    order=order,
                    limit=size + 1 - len(rows),
                )
            )
        assert len(rows) <= size + 1
        collected.extend(rows[:size])
        if len(rows) <= size:
            return collected
        values = order.row_values(rows[size - 1], columns)
        cursor = encode_cursor(values, secret=SECRET, fingerprint=fingerprint)
    raise AssertionError("paging did not end")


COLUMNS = [
    ColumnInfo("id", "integer", False),
    ColumnInfo("grp", "integer", True),
    ColumnInfo(LABEL, "string", True),
    ColumnInfo("amount", "number", True),
    ColumnInfo("created", "timestamp", True),
    ColumnInfo(ORDER, "integer", True),
]


async def test_paging_postgresql(create_database):
    url = await create_database("sqlpaging")
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        await conn.execute(
            "CREATE TABLE items (id int PRIMARY KEY, grp int, name text, amount numeric(10, 2), "
            'created timestamp, "order" int)'
        )
        await conn.copy_records_to_table("items", records=make_rows())

        async def fetch(bound):
            return [tuple(record) for record in await conn.fetch(bound.sql, *bound.params)]

        await check_paging(fetch, Dialect.POSTGRESQL, '"', "items", COLUMNS)
    finally:
        await conn.close()


async def test_paging_sqlite(tmp_path):
    conn = sqlite3.connect(tmp_path / "erp.db")
    try:
        conn.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, amount REAL, "
            'created TEXT, "order" INTEGER)'
        )
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    i,
                    g,
                    n,
                    None if a is None else float(a),
                    None if c is None else c.isoformat(" "),
                    o,
                )
                for i, g, n, a, c, o in make_rows()
            ],
        )

        async def fetch(bound):
            # sqlite3 binds no Decimal: pass what SQLite stores (REAL)
            values = [float(v) if isinstance(v, Decimal) else v for v in bound.params]
            return conn.execute(bound.sql, values).fetchall()

        # SQLite reports values as stored: REAL amounts, TEXT timestamps
        columns = [
            column if column.name != "created" else ColumnInfo("created", "string", True)
            for column in COLUMNS
        ]
        await check_paging(fetch, Dialect.SQLITE, '"', "items", columns)
    finally:
        conn.close()


@pytest.mark.mysql
@pytest.mark.skipif(
    not os.environ.get("APISMITH_TEST_MYSQL_URL"),
    reason="APISMITH_TEST_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)",
)
async def test_paging_mariadb():
    url = urlsplit(os.environ["APISMITH_TEST_MYSQL_URL"])
    conn = await asyncmy.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=url.path.lstrip("/"),
        autocommit=True,
    )
    table = f"apismith_paging_{uuid.uuid4().hex[:12]}"
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(
                f"CREATE TABLE {table} (id INT PRIMARY KEY, grp INT, name VARCHAR(50), "
                "amount DECIMAL(10, 2), created DATETIME, `order` INT)"
            )
            await cursor.executemany(
                f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s)", make_rows()
            )

        async def fetch(bound):
            async with conn.cursor() as cursor:
                await cursor.execute(bound.sql, bound.params)
                return [tuple(row) for row in await cursor.fetchall()]

        await check_paging(fetch, Dialect.MYSQL, "`", table, COLUMNS)
    finally:
        async with conn.cursor() as cursor:
            await cursor.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()
