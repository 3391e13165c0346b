"""Pages as Arrow: execute by ``Accept``, exact types, paging headers, and the column
builder's rules (decimal128 scale, fallbacks, the vector path agreeing with Python's)."""

import base64
import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pytest

from apismith.drivers.base import ColumnInfo, ErpQueryError
from apismith.drivers.postgresql_arrow import ArrowPages
from apismith.runtime.arrow import COLUMNS_KEY, page_body
from apismith.runtime.arrow_columns import decimal_scale, local_instants, page_column
from apismith.runtime.encoding import aware
from services.apismith.tests.erp_fixtures import ORDER_COLUMNS, add_api, add_connection

ARROW = "application/vnd.apache.arrow.stream"
ORDERS_SQL = f"SELECT {', '.join(ORDER_COLUMNS)} FROM shop_orders"
ORDERS_KEYS = {"business_keys": ["order_no"], "rowversion_column": "rowversion"}
BERLIN = ZoneInfo("Europe/Berlin")

# every PostgreSQL type APISmith maps, with NULLs, non-ASCII, empty text and edge values;
# the naive timestamps fall on Berlin's skipped (31 March) and repeated (27 October) hours
TYPES_SQL = """
SELECT id, flag, day, local_at, instant, clock, raw, label, doc, amount, ratio, loose
FROM (VALUES
  (1::bigint, true, date '2024-02-29', timestamp '2024-10-27 02:30:00',
   timestamptz '2024-07-01 08:00:00.123456+02', time '13:45:00.000005', '\\x00ff'::bytea,
   'Größe 12 – 部品 "A"', '{"price": 1.10, "tags": ["ü", null]}'::jsonb,
   123456789012345678.12345678901234567890::numeric(38, 20), '-0'::float8, 2.5::numeric),
  (2, false, date '0001-01-01', timestamp '2024-03-31 02:30:00',
   timestamptz '1999-12-31 23:59:59.999999-05', time '00:00:00', ''::bytea,
   '', '[]'::jsonb, 0.10000000000000000000::numeric(38, 20), 1e300::float8, 7.125::numeric),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '-0.00'::numeric),
  ('-9223372036854775808'::bigint, true, date '9999-12-31', timestamp '2024-01-01 00:00:00',
   timestamptz '2024-01-01 00:00:00+00', time '23:59:59.999999', '\\xdeadbeef'::bytea,
   'Halter' || chr(10) || 'zweizeilig', '"ü"'::jsonb,
   -99999999999999999.99999999999999999999::numeric(38, 20), 0.1::float8, 10::numeric)
) AS t(id, flag, day, local_at, instant, clock, raw, label, doc, amount, ratio, loose)
"""


@pytest.fixture
def adbc_pages(monkeypatch):
    """Every PostgreSQL page read through ADBC: True when it came back as native Arrow."""
    read: list[bool] = []
    fetch = ArrowPages.fetch

    async def recording(self, sql, params, compared=frozenset()):
        table = await fetch(self, sql, params, compared)
        read.append(table is not None)
        return table

    monkeypatch.setattr(ArrowPages, "fetch", recording)
    return read


async def _execute(client, headers, slug, accept=ARROW, **body):
    headers = {**headers, "Accept": accept} if accept is not None else headers
    return await client.post(f"/api/v1/runtime/{slug}/execute", json=body, headers=headers)


def _table(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW
    return pa.ipc.open_stream(response.content).read_all()


def _same(arrow_value, json_value, data_type):
    """An Arrow value is the JSON one: the same digits, instant, date, bytes or text."""
    if arrow_value is None or json_value is None:
        return arrow_value is None and json_value is None
    if isinstance(arrow_value, Decimal):
        # the same digits, bar trailing zeros up to the page's largest scale
        text = format(arrow_value, "f")
        padding = text.removeprefix(json_value)
        return text == json_value or (
            Decimal(json_value) == arrow_value and padding != text and set(padding) <= {".", "0"}
        )
    if data_type == "timestamp":
        return arrow_value == datetime.fromisoformat(json_value)
    if isinstance(arrow_value, date | time):
        return arrow_value.isoformat() == json_value
    if isinstance(arrow_value, bytes):
        return base64.b64encode(arrow_value).decode() == json_value
    if data_type == "json":
        return orjson.loads(arrow_value) == json_value
    return arrow_value == json_value


def _assert_same_rows(table, json_rows, columns):
    types = {column["name"]: column["data_type"] for column in columns}
    arrow_rows = table.to_pylist()
    assert len(arrow_rows) == len(json_rows)
    for arrow_row, json_row in zip(arrow_rows, json_rows, strict=True):
        assert list(arrow_row) == list(json_row)
        for name, value in json_row.items():
            assert _same(arrow_row[name], value, types[name]), (name, arrow_row, json_row)


async def test_arrow_page_round_trips_every_postgresql_type_exactly(
    apismith_client, admin_headers, erp_postgres, adbc_pages
):
    connection = await add_connection(
        apismith_client, admin_headers, erp_postgres, timezone="Europe/Berlin"
    )
    api = await add_api(apismith_client, admin_headers, connection, TYPES_SQL, business_keys=["id"])
    body = {"sort": [{"field": "id", "direction": "asc"}], "page_size": 10}

    as_json = await _execute(apismith_client, admin_headers, api["slug"], accept=None, **body)
    arrow = await _execute(apismith_client, admin_headers, api["slug"], **body)

    table = _table(arrow)
    assert dict(zip(table.schema.names, table.schema.types, strict=True)) == {
        "id": pa.int64(),
        "flag": pa.bool_(),
        "day": pa.date32(),
        "local_at": pa.timestamp("us", tz="UTC"),
        "instant": pa.timestamp("us", tz="UTC"),
        "clock": pa.time64("us"),
        "raw": pa.binary(),
        "label": pa.string(),
        "doc": pa.string(),
        "amount": pa.decimal128(38, 20),
        "ratio": pa.float64(),
        "loose": pa.decimal128(38, 3),  # the page's largest scale (7.125)
    }
    assert orjson.loads(table.schema.metadata[COLUMNS_KEY]) == api["columns"]
    assert orjson.loads(table.schema.metadata[COLUMNS_KEY]) == as_json.json()["metadata"]["columns"]
    rows = {row["id"]: row for row in table.to_pylist()}
    assert rows[1]["amount"] == Decimal("123456789012345678.12345678901234567890")
    assert format(rows[2]["amount"], "f") == "0.10000000000000000000"  # trailing zeros kept
    assert rows[-9223372036854775808]["amount"] == Decimal(
        "-99999999999999999.99999999999999999999"
    )
    assert math.copysign(1, rows[1]["ratio"]) == -1  # float8 -0 stays negative zero
    assert rows[2]["ratio"] == 1e300
    assert rows[3]["loose"] == Decimal("0.000")  # numeric has no negative zero
    assert format(rows[1]["loose"], "f") == "2.500"
    # 02:30 on 27 October happens twice in Berlin: the first (CEST), as in JSON
    assert rows[1]["local_at"] == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    # 02:30 on 31 March does not exist in Berlin: read with the offset before the gap
    assert rows[2]["local_at"] == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert rows[1]["instant"] == datetime(2024, 7, 1, 6, 0, 0, 123456, tzinfo=UTC)
    assert rows[1]["clock"] == time(13, 45, 0, 5)
    assert rows[1]["raw"] == b"\x00\xff"
    assert rows[2]["raw"] == b""
    assert rows[1]["label"] == 'Größe 12 – 部品 "A"'
    assert rows[2]["label"] == ""  # empty text is not NULL
    assert rows[3]["label"] is None
    assert orjson.loads(rows[1]["doc"]) == {"price": "1.10", "tags": ["ü", None]}
    assert rows[-9223372036854775808]["doc"] == '"ü"'  # JSON text, quotes and all
    assert rows[3]["doc"] is None
    assert rows[3] == dict.fromkeys(rows[3]) | {"id": 3, "loose": Decimal("0.000")}
    assert rows[2]["day"] == date(1, 1, 1)
    _assert_same_rows(table, as_json.json()["data"], api["columns"])
    assert adbc_pages == [True]  # the page came through ADBC, as native Arrow


async def test_arrow_pages_visit_every_row_once_and_match_the_json_pages(
    apismith_client, admin_headers, erp_source, adbc_pages
):
    connection = await add_connection(apismith_client, admin_headers, erp_source)
    api = await add_api(apismith_client, admin_headers, connection, ORDERS_SQL, **ORDERS_KEYS)
    body = {"sort": [{"field": "priority", "direction": "desc"}], "page_size": 37}
    json_cursor = arrow_cursor = None
    seen, pages = [], 0
    while True:
        as_json = await _execute(
            apismith_client, admin_headers, api["slug"], accept=None, cursor=json_cursor, **body
        )
        arrow = await _execute(
            apismith_client, admin_headers, api["slug"], cursor=arrow_cursor, **body
        )
        page = as_json.json()
        table = _table(arrow)
        _assert_same_rows(table, page["data"], api["columns"])
        assert int(arrow.headers["APISmith-Row-Count"]) == page["metadata"]["row_count"]
        assert int(arrow.headers["APISmith-Page-Size"]) == 37
        assert "APISmith-Total-Rows" not in arrow.headers
        assert float(arrow.headers["APISmith-Execution-Time-Ms"]) >= 0
        seen += table.column("order_no").to_pylist()
        pages += 1
        json_cursor = page["metadata"]["next_cursor"]
        arrow_cursor = arrow.headers.get("APISmith-Next-Cursor")
        assert (arrow_cursor is None) == (json_cursor is None)
        if arrow_cursor is None:
            break
    assert pages == -(-420 // 37)
    assert len(seen) == len(set(seen)) == 420
    if erp_source.dialect == "postgresql":  # every page (and NULL tail) through ADBC
        assert len(adbc_pages) >= pages
        assert all(adbc_pages)


async def test_total_rows_header_and_a_zero_row_page(
    apismith_client, admin_headers, erp_postgres, adbc_pages
):
    connection = await add_connection(apismith_client, admin_headers, erp_postgres)
    api = await add_api(apismith_client, admin_headers, connection, ORDERS_SQL, **ORDERS_KEYS)
    released = [{"field": "status", "operator": "eq", "value": "Released"}]
    nothing = [{"field": "status", "operator": "eq", "value": "no such status"}]

    counted = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        filters=released,
        page_size=10,
        include_total=True,
    )
    empty = await _execute(
        apismith_client, admin_headers, api["slug"], filters=nothing, include_total=True
    )

    assert _table(counted).num_rows == 10
    assert counted.headers["APISmith-Total-Rows"] == "84"
    assert "APISmith-Next-Cursor" in counted.headers
    assert counted.headers["vary"] == "Accept"
    assert empty.headers["APISmith-Total-Rows"] == "0"
    assert "APISmith-Next-Cursor" not in empty.headers
    reader = pa.ipc.open_stream(empty.content)
    assert list(reader) == []  # the schema, no record batch, the end-of-stream marker
    assert reader.schema.names == list(ORDER_COLUMNS)
    assert reader.schema.field("qty").type == pa.decimal128(38, 0)  # no value: scale 0
    assert orjson.loads(reader.schema.metadata[COLUMNS_KEY]) == api["columns"]
    assert adbc_pages == [True, True]


async def test_numbers_no_decimal128_holds_fall_back_to_their_json_digits(
    apismith_client, admin_headers, erp_postgres, adbc_pages
):
    connection = await add_connection(apismith_client, admin_headers, erp_postgres)
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT id, n FROM (VALUES (1, 'NaN'::numeric), (2, 'Infinity'::numeric), (3, 1.50),"
        " (4, NULL)) AS t(id, n) UNION ALL SELECT 5, 1e40::numeric"
        " UNION ALL SELECT 6, 0.000000000000000000000000000000000000001::numeric",
        business_keys=["id"],
    )

    async def page(*ids):
        filters = [{"field": "id", "operator": "in", "value": list(ids)}]
        body = {"filters": filters, "sort": [{"field": "id", "direction": "asc"}]}
        as_json = await _execute(apismith_client, admin_headers, api["slug"], accept=None, **body)
        table = _table(await _execute(apismith_client, admin_headers, api["slug"], **body))
        assert table.column("n").to_pylist() == [row["n"] for row in as_json.json()["data"]]
        return table.schema.field("n").type, table.column("n").to_pylist()

    assert await page(1, 3, 4) == (pa.string(), ["NaN", "1.50", None])
    assert await page(2) == (pa.string(), ["Infinity"])
    assert await page(3, 5) == (pa.string(), ["1.50", "1" + "0" * 40])  # 43 digits at scale 2
    assert await page(6) == (pa.string(), ["0." + "0" * 38 + "1"])  # scale 39
    fits = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        filters=[{"field": "id", "operator": "in", "value": [3, 4]}],
    )
    assert _table(fits).column("n").to_pylist() == [Decimal("1.50"), None]
    assert adbc_pages == [True] * 5


async def test_mariadb_arrow_page_is_exact(apismith_client, admin_headers, erp_mysql):
    connection = await add_connection(
        apismith_client, admin_headers, erp_mysql, timezone="Europe/Berlin"
    )
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT part_no, description, unit_cost, weight_kg, created_at,"
        " CAST(unit_cost * 1000000 AS DECIMAL(38, 12)) AS big, rowversion FROM parts",
        business_keys=["part_no"],
    )
    body = {"page_size": 60}

    as_json = await _execute(apismith_client, admin_headers, api["slug"], accept=None, **body)
    table = _table(await _execute(apismith_client, admin_headers, api["slug"], **body))

    assert table.schema.field("unit_cost").type == pa.decimal128(38, 6)
    assert table.schema.field("weight_kg").type == pa.decimal128(38, 3)
    assert table.schema.field("big").type == pa.decimal128(38, 12)
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    rows = {row["part_no"]: row for row in table.to_pylist()}
    assert rows["P-0002"]["unit_cost"] == Decimal("99999999999.999999")
    assert rows["P-0001"]["created_at"] == datetime(2024, 3, 30, 14, tzinfo=UTC)  # 15:00 CET
    assert rows["P-0002"]["description"] == "部品 A"
    assert rows["P-0005"]["description"] == ""
    assert rows["P-0011"]["description"] is None
    _assert_same_rows(table, as_json.json()["data"], api["columns"])


async def test_unknown_accept_is_406_and_errors_stay_json(
    apismith_client, admin_headers, erp_sqlite
):
    connection = await add_connection(apismith_client, admin_headers, erp_sqlite)
    api = await add_api(apismith_client, admin_headers, connection, ORDERS_SQL, **ORDERS_KEYS)

    for accept in ("text/csv", "application/xml", "application/x-ndjson"):
        refused = await _execute(apismith_client, admin_headers, api["slug"], accept=accept)
        assert refused.status_code == 406
        assert refused.json()["detail"] == (
            "cannot answer in the requested media type: Accept one of "
            f"application/json, {ARROW} (default application/json)"
        )
    bad_field = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        filters=[{"field": "colour", "operator": "eq", "value": 1}],
    )
    assert bad_field.status_code == 400
    assert bad_field.headers["content-type"] == "application/json"
    assert "colour" in bad_field.json()["detail"]
    preferred = await _execute(
        apismith_client, admin_headers, api["slug"], accept=f"application/json;q=0.5, {ARROW}"
    )
    assert preferred.headers["content-type"] == ARROW
    for accept in ("*/*", "application/json", "application/*"):
        as_json = await _execute(apismith_client, admin_headers, api["slug"], accept=accept)
        assert as_json.headers["content-type"] == "application/json"

    audit = await apismith_client.get(
        f"/api/v1/executions?slug={api['slug']}&page_size=100", headers=admin_headers
    )
    statuses = sorted(item["status"] for item in audit.json()["items"])
    # a 406 is refused before the call starts (as for /stream); the rest are audited
    assert statuses == ["error"] + ["ok"] * 4


async def test_stream_schema_carries_the_columns_and_numbers_as_text(
    apismith_client, admin_headers, erp_postgres
):
    connection = await add_connection(apismith_client, admin_headers, erp_postgres)
    api = await add_api(apismith_client, admin_headers, connection, ORDERS_SQL, **ORDERS_KEYS)

    response = await apismith_client.post(
        f"/api/v1/runtime/{api['slug']}/stream",
        json={},
        headers={**admin_headers, "Accept": ARROW},
    )

    table = pa.ipc.open_stream(response.content).read_all()
    assert orjson.loads(table.schema.metadata[COLUMNS_KEY]) == api["columns"]
    assert table.schema.field("qty").type == pa.string()
    assert "0.125" in {value[-5:] for value in table.column("qty").to_pylist()}


# the column builder, without a database

NUMBER = ColumnInfo("n", "number", True)


@pytest.mark.parametrize(
    ("values", "arrow_type", "expected"),
    [
        ([Decimal("1.5"), Decimal("2.125"), None], pa.decimal128(38, 3), ["1.500", "2.125", None]),
        ([Decimal("0E-10")], pa.decimal128(38, 10), ["0E-10"]),
        ([Decimal("1E+3"), 7], pa.decimal128(38, 0), ["1000", "7"]),
        ([Decimal("-0.00")], pa.decimal128(38, 2), ["0.00"]),  # decimal128 has no -0
        ([Decimal("9" * 38)], pa.decimal128(38, 0), ["9" * 38]),
        ([Decimal("9" * 38), Decimal("0.5")], pa.string(), ["9" * 38, "0.5"]),
        ([Decimal("0." + "1" * 38)], pa.decimal128(38, 38), ["0." + "1" * 38]),
        ([Decimal("sNaN"), None], pa.string(), ["sNaN", None]),
        ([Decimal("-Infinity")], pa.string(), ["-Infinity"]),
        ([-0.0, 1.5, None], pa.float64(), [-0.0, 1.5, None]),
        ([Decimal("1.5"), 2.5], pa.string(), ["1.5", "2.5"]),
        ([None, None], pa.decimal128(38, 0), [None, None]),
    ],
)
def test_numbers_are_decimal128_at_the_largest_scale_or_exact_text(values, arrow_type, expected):
    array = page_column(values, NUMBER, UTC, exact_numbers=True)

    assert array.type == arrow_type
    got = array.to_pylist()
    if pa.types.is_decimal(arrow_type):
        assert [None if v is None else str(v) for v in got] == expected
    else:
        assert got == expected
        if arrow_type == pa.float64():
            assert math.copysign(1, got[0]) == -1


def test_decimal_scale_counts_trailing_zeros_and_refuses_nan():
    assert decimal_scale([Decimal("1.10"), Decimal("2.1")]) == 2
    assert decimal_scale([Decimal("1.1"), Decimal("2.100")]) == 3
    assert decimal_scale([Decimal("5E+2")]) == 0
    assert decimal_scale([]) == 0
    assert decimal_scale([Decimal("1.0"), Decimal("NaN")]) is None


@pytest.mark.parametrize("zone", [BERLIN, ZoneInfo("America/New_York"), UTC])
def test_naive_timestamps_in_a_zone_agree_with_python_one_by_one(zone):
    """The vector path (pyarrow's assume_timezone) against Python's reading of each value,
    over two years of hours in both directions of both DST changes, repeated hours too.
    Skipped hours send the whole column down the Python path (the test below), so they
    are left out here: with them, this would compare Python with Python."""
    start = datetime(2023, 1, 1)
    naive: list[datetime | None] = [
        moment
        for moment in (start + timedelta(minutes=30 * n) for n in range(2 * 365 * 48))
        if aware(moment, zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == moment
    ]
    assert local_instants(pa.array(naive, pa.timestamp("us")), zone) is not None
    naive.append(None)

    array = page_column(naive, ColumnInfo("t", "timestamp", True), zone, exact_numbers=True)

    python = [None if v is None else aware(v, zone).astimezone(UTC) for v in naive]
    assert array.to_pylist() == python


def test_skipped_hours_and_mixed_zones_take_the_python_path():
    column = ColumnInfo("t", "timestamp", True)
    values = [datetime(2024, 3, 31, 2, 30), datetime(2024, 1, 1, 12, tzinfo=UTC), None]

    array = page_column(values, column, BERLIN, exact_numbers=True)

    assert array.to_pylist() == [
        datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
        datetime(2024, 1, 1, 12, tzinfo=UTC),
        None,
    ]


@pytest.mark.parametrize(
    ("data_type", "values", "fitted"),
    [
        ("integer", [1, Decimal("2"), True], [1, 2, 1]),
        ("boolean", [True, 0, 1], [True, False, True]),
        ("date", [date(2024, 1, 2), None], [date(2024, 1, 2), None]),
        ("binary", [bytearray(b"a"), memoryview(b"b")], [b"a", b"b"]),
        ("string", ["a", {"x": Decimal("1.0")}, 3, None], ["a", '{"x":"1.0"}', "3", None]),
    ],
)
def test_values_of_another_python_type_are_converted_one_by_one(data_type, values, fitted):
    array = page_column(values, ColumnInfo("c", data_type, True), UTC, exact_numbers=True)

    assert array.to_pylist() == fitted


@pytest.mark.parametrize(
    ("data_type", "value"),
    [
        ("integer", "not a number"),
        ("integer", 2.5),
        ("integer", 2**63),
        ("date", datetime(2024, 1, 1)),
        ("boolean", 2),
        ("timestamp", "2024-01-01"),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_a_clear_error(data_type, value):
    column = ColumnInfo("c", data_type, True)

    with pytest.raises(ErpQueryError, match=f"column 'c' returned a {type(value).__name__} value"):
        page_column([None, value], column, UTC, exact_numbers=True)


def test_a_page_body_without_rows_is_a_schema_and_the_end_of_stream():
    columns = [ColumnInfo("id", "integer", False), NUMBER]
    metadata = [{"name": "id", "data_type": "integer", "nullable": False}]

    body = page_body([], columns, UTC, columns_metadata=metadata)

    assert body.endswith(b"\xff\xff\xff\xff\x00\x00\x00\x00")
    reader = pa.ipc.open_stream(body)
    assert list(reader) == []
    assert reader.schema.types == [pa.int64(), pa.decimal128(38, 0)]
    assert orjson.loads(reader.schema.metadata[COLUMNS_KEY]) == metadata
