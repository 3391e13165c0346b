"""COPY text rows read back from a real PostgreSQL exactly as they were written."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bridge_core.db.engine import asyncpg_dsn
from syncflow.domain import FieldType
from syncflow.pipeline import copy_text

COLUMNS = (
    ("t", "text", FieldType.TEXT),
    ("i", "bigint", FieldType.INTEGER),
    ("n", "numeric", FieldType.NUMERIC),
    ("b", "boolean", FieldType.BOOLEAN),
    ("d", "date", FieldType.DATE),
    ("ts", "timestamptz", FieldType.TIMESTAMP),
    ("u", "uuid", copy_text.UUID),
)

TEXTS = [
    "plain",
    "tab\there",
    "line\nbreak",
    "carriage\rreturn",
    "back\\slash",
    "\\N",  # the NULL marker as text stays text
    "\\.",  # the old end-of-data marker
    "",
    "Ä ö ß 漢字 \U0001f600",
    None,
]
VALUES = {
    "i": [0, -1, 2**63 - 1, -(2**63), 42, None, 7, 8, 9, 10],
    "n": [
        Decimal("1.50"),
        Decimal("-0"),
        Decimal("1E+3"),
        Decimal("1E-20"),
        Decimal("123456789012345678901234567890.123456789"),
        None,
        Decimal("0.1"),
        Decimal(2),
        Decimal("-7.25"),
        Decimal("100"),
    ],
    "b": [True, False, None, True, False, True, True, False, False, True],
    "d": [date(2025, 12, 31), date(1, 1, 1), date(9999, 12, 31), None, *[date(2000, 1, 1)] * 6],
    "ts": [
        datetime(2025, 12, 8, 10, 30, 0, 123456, tzinfo=UTC),
        datetime(2025, 3, 30, 2, 30, tzinfo=timezone(timedelta(hours=2))),
        # a zone offset with seconds (local mean time before 1893 in Berlin)
        datetime(1850, 1, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        None,
        *[datetime(2000, 1, 1, tzinfo=UTC)] * 6,
    ],
    "u": [uuid.uuid4(), None, *[uuid.UUID(int=n) for n in range(8)]],
}


@pytest.fixture
async def connection(create_database):
    url = await create_database("copy_text")
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    yield conn
    await conn.close()


async def test_values_survive_a_copy_round_trip(connection):
    columns = {"t": TEXTS, **VALUES}
    await connection.execute(
        "CREATE TABLE t (pos int, " + ", ".join(f"{n} {sql}" for n, sql, _ in COLUMNS) + ")"
    )
    rendered: list[list[str] | str] = [[str(n) for n in range(len(TEXTS))]]
    rendered += [copy_text.render(kind, columns[name]) for name, _, kind in COLUMNS]
    payload = copy_text.rows(rendered, len(TEXTS))
    await connection.copy_to_table(
        "t",
        source=memoryview(payload),
        columns=["pos", *(n for n, _, _ in COLUMNS)],
        format="text",
    )
    rows = await connection.fetch("SELECT * FROM t ORDER BY pos")
    for name, _, _ in COLUMNS:
        assert [row[name] for row in rows] == list(columns[name]), name


async def test_constant_columns_and_no_rows(connection):
    await connection.execute("CREATE TABLE c (id int, batch uuid, at timestamptz, note text)")
    batch = uuid.uuid4()
    at = datetime(2025, 12, 8, 10, 30, tzinfo=UTC)
    payload = copy_text.rows(
        [
            ["1", "2"],
            copy_text.constant(copy_text.UUID, batch),
            copy_text.constant(FieldType.TIMESTAMP, at),
            copy_text.constant(FieldType.TEXT, "a\tb"),
        ],
        2,
    )
    await connection.copy_to_table("c", source=memoryview(payload), format="text")
    rows = await connection.fetch("SELECT * FROM c ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, batch, at, "a\tb"), (2, batch, at, "a\tb")]
    assert copy_text.rows([[], "x"], 0) == b""
    assert copy_text.constant(FieldType.TEXT, None) == copy_text.NULL
