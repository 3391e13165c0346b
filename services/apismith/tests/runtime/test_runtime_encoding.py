"""Value and row encoding: exact decimals, timestamps with offsets, CSV quoting, Arrow types."""

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pytest

from apismith.drivers.base import ColumnInfo, ErpQueryError
from apismith.runtime.arrow import ArrowEncoder
from apismith.runtime.encoding import (
    CsvEncoder,
    NdjsonEncoder,
    NotAcceptable,
    encode_json,
    negotiate,
)

BERLIN = ZoneInfo("Europe/Berlin")
ACCEPT_CASES = json.loads((Path(__file__).parent / "accept_cases.json").read_text())


@pytest.mark.parametrize("case", ACCEPT_CASES, ids=lambda case: repr(case["accept"]))
def test_accept_header_picks_the_stream_format(case):
    if case["format"] is None:
        with pytest.raises(NotAcceptable) as refused:
            negotiate(case["accept"])
        assert refused.value.status_code == 406
        assert "text/csv" in refused.value.detail
    else:
        assert negotiate(case["accept"]) == case["format"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12.500000"), "12.500000"),
        (Decimal("99999999999999999999.000000000001"), "99999999999999999999.000000000001"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.00"), "-0.00"),
        (Decimal("0E-10"), "0.0000000000"),
        (datetime(2024, 3, 30, 23, 30), "2024-03-30T23:30:00+01:00"),
        (datetime(2024, 3, 31, 3, 30, 0, 123456), "2024-03-31T03:30:00.123456+02:00"),
        (datetime(2024, 3, 31, 1, 30, tzinfo=UTC), "2024-03-31T01:30:00+00:00"),
        (datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5))), "2024-01-01T00:00:00-05:00"),
        (date(2024, 2, 29), "2024-02-29"),
        (time(13, 45, 0, 5), "13:45:00.000005"),
        (b"\x00\xffbin", "AP9iaW4="),
        (memoryview(b"abc"), "YWJj"),
        ("Schraube M8 – verzinkt 部品", "Schraube M8 – verzinkt 部品"),
        (None, None),
        (True, True),
        (9_223_372_036_854_775_807, 9_223_372_036_854_775_807),
        (2.5, 2.5),
        ({"price": Decimal("1.10"), "tags": ["a", None]}, {"price": "1.10", "tags": ["a", None]}),
    ],
)
def test_json_values_keep_exact_digits_and_offsets(value, expected):
    # naive timestamps are read in the connection's zone (Berlin: CET, then CEST from 31 March)
    assert orjson.loads(encode_json({"v": value}, zone=BERLIN)) == {"v": expected}


COLUMNS = [
    ColumnInfo("id", "integer", False),
    ColumnInfo("name", "string", True),
    ColumnInfo("amount", "number", True),
    ColumnInfo("changed", "timestamp", True),
    ColumnInfo("due", "date", True),
    ColumnInfo("active", "boolean", True),
    ColumnInfo("blob", "binary", True),
]
ROWS = [
    (
        1,
        'O-Ring "NBR", 20×2',
        Decimal("0.000001"),
        datetime(2024, 1, 1, 8),
        date(2024, 1, 2),
        True,
        b"\x01",
    ),
    (2, "", None, None, None, None, None),
    (
        3,
        "Halter\nzweizeilig",
        Decimal("10"),
        datetime(2024, 7, 1, 8, tzinfo=UTC),
        None,
        False,
        None,
    ),
]


def test_ndjson_writes_one_object_per_line():
    encoder = NdjsonEncoder(COLUMNS, UTC)

    body = encoder.start() + encoder.encode(ROWS[:2]) + encoder.encode(ROWS[2:]) + encoder.finish()

    lines = body.split(b"\n")
    assert lines[-1] == b""
    objects = [orjson.loads(line) for line in lines[:-1]]
    assert [o["id"] for o in objects] == [1, 2, 3]
    assert objects[0]["amount"] == "0.000001"
    assert objects[0]["changed"] == "2024-01-01T08:00:00+00:00"
    assert objects[2]["name"] == "Halter\nzweizeilig"
    assert objects[1] == dict.fromkeys(objects[1], None) | {"id": 2, "name": ""}


def test_csv_quotes_every_value_and_leaves_null_empty():
    encoder = CsvEncoder(COLUMNS, BERLIN)

    text = (encoder.start() + encoder.encode(ROWS) + encoder.finish()).decode()

    assert text.startswith('"id","name","amount","changed","due","active","blob"\r\n')
    # the empty string is "" and NULL is nothing, so the two stay apart
    assert '\r\n"2","",,,,,\r\n' in text
    records = list(csv.reader(io.StringIO(text)))
    assert records[1] == [
        "1",
        'O-Ring "NBR", 20×2',
        "0.000001",
        "2024-01-01T08:00:00+01:00",
        "2024-01-02",
        "true",
        "AQ==",
    ]
    assert records[3][1] == "Halter\nzweizeilig"
    assert records[3][3] == "2024-07-01T08:00:00+00:00"


def test_arrow_stream_has_typed_columns_and_exact_decimal_text():
    encoder = ArrowEncoder(COLUMNS, BERLIN)

    body = encoder.start() + encoder.encode(ROWS[:1]) + encoder.encode(ROWS[1:]) + encoder.finish()

    reader = pa.ipc.open_stream(body)
    assert reader.schema.types == [
        pa.int64(),
        pa.string(),
        pa.string(),
        pa.timestamp("us", tz="UTC"),
        pa.date32(),
        pa.bool_(),
        pa.binary(),
    ]
    batches = list(reader)
    assert [batch.num_rows for batch in batches] == [1, 2]
    rows = pa.Table.from_batches(batches).to_pylist()
    assert rows[0]["amount"] == "0.000001"
    assert rows[0]["changed"] == datetime(2024, 1, 1, 7, tzinfo=UTC)  # 08:00 in Berlin
    assert rows[1] == {
        "id": 2,
        "name": "",
        "amount": None,
        "changed": None,
        "due": None,
        "active": None,
        "blob": None,
    }


def test_arrow_stream_without_rows_still_has_its_schema():
    encoder = ArrowEncoder(COLUMNS, UTC)

    table = pa.ipc.open_stream(encoder.start() + encoder.finish()).read_all()

    assert table.num_rows == 0
    assert table.schema.names == [column.name for column in COLUMNS]


def test_arrow_refuses_a_value_that_does_not_fit_its_column_type():
    encoder = ArrowEncoder([ColumnInfo("id", "integer", False)], UTC)

    with pytest.raises(ErpQueryError, match="column 'id' returned a str value"):
        encoder.encode([("not a number",)])
