"""An Arrow page gives exactly the records and failures its JSON form gives.

``EntityPipeline.prepare_table`` runs an Arrow page's columns through the column lane
and hands the rows it cannot vouch for to the row-wise stages; the reference is the
row-wise stages alone on the same page as APISmith's JSON would carry it. Every record
(values, target, rowversion, hashes, parent key hashes, raw row) and every failure must
agree, whether the lane's rows come back as records or stay columns. Timestamps agree
by their instant: the lane keeps them in UTC, the row-wise stages with the offset a
value came with (no mapped field shows the offset; a page whose rowversion is text read
as a timestamp goes row by row, so its text keeps it).
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from services.syncflow.tests.pipeline.row_wise import described as described_by_identity
from services.syncflow.tests.pipeline.row_wise import row_wise
from syncflow.domain import FieldType
from syncflow.pipeline.frames.lane import POSITION
from syncflow.pipeline.frames.records import records_of
from syncflow.pipeline.frames.rows import json_column, json_rows, last_json_value
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.prepare import EntityPipeline

SPEC = {
    "columns": {
        "item_no": "string",
        "site": "string",
        "qty": "integer",
        "price": "number",
        "active": "boolean",
        "due": "date",
        "changed_at": "timestamp",
        "note": "string",
    },
    "business_keys": ["item_no", "site"],
    "rowversion": "changed_at",
    "timezone": "Europe/Berlin",
}
ARROW_TYPES = {
    "item_no": pa.string(),
    "site": pa.string(),
    "qty": pa.int64(),
    "price": pa.decimal128(38, 3),
    "active": pa.bool_(),
    "due": pa.date32(),
    "changed_at": pa.timestamp("us", tz="UTC"),
    "note": pa.string(),
}
START = datetime(2025, 12, 8, 9, 0, tzinfo=UTC)


def clean_row(n):
    return {
        "item_no": f"IT-{n:05d}",
        "site": "B1",
        "qty": n - 20,
        "price": Decimal(f"{n}.500"),
        "active": n % 2 == 0,
        "due": date(2025, 12, 31),
        "changed_at": START + timedelta(seconds=n, microseconds=n),
        "note": "ok",
    }


MESSY = {
    "item_no": [None, "  ", " IT-X ", "IT-\u00c4", "IT-A\u0308", "IT-\x07bell", "IT\r\nCR"],
    "site": [None, "", "B1 ", "\tB2"],
    "qty": [None, 2**62, -(2**63)],
    "price": [None, Decimal("-0.000"), Decimal("100.000"), Decimal("12345678901234567890.123")],
    "active": [None],
    "due": [None, date(1, 1, 1), date(9999, 12, 31)],
    "changed_at": [None, datetime(1970, 1, 1, tzinfo=UTC)],
    "note": ["a\tb", "  padded  ", "\u00a0nbsp\u00a0", "x" * 300, "back\\slash", None, ""],
}


def page(rows):
    return pa.table(
        {name: pa.array([r[name] for r in rows], kind) for name, kind in ARROW_TYPES.items()}
    )


def with_each_value(row_of, messy, clean: int):
    """``clean`` rows, then a row for each messy value (the rest of that row clean)."""
    rows = [row_of(n) for n in range(clean)]
    for name, values in messy.items():
        for value in values:
            row = row_of(len(rows))
            row[name] = value
            rows.append(row)
    return rows


def messy_rows():
    return with_each_value(clean_row, MESSY, 30)


def described(records):
    """As the row lane's tests compare records, the raw rows by value (an Arrow page's
    raw rows are made from it, never the same objects), timestamps in UTC."""
    return described_by_identity([in_utc(record) for record in records], raw=dict)


def in_utc(record):
    def utc(values):
        return {
            name: value.astimezone(UTC) if isinstance(value, datetime) else value
            for name, value in values.items()
        }

    return replace(record, values=utc(record.values), target=utc(record.target))


def failures_of(failures, pipeline):
    return sorted(
        (f.stage, f.error, sorted(f.raw.items(), key=str), pipeline._with_key(f).key_hash)
        for f in failures
    )


def assert_same_as_json(spec, table):
    pipeline = EntityPipeline(spec)
    expected_records, expected_failures = row_wise(spec, json_rows(table))
    # every row as a record
    records, failures, lane, _ = pipeline.prepare_table(table, {}, as_records=True)
    assert lane is None
    assert described(records) == described(expected_records)
    assert failures_of(failures, pipeline) == failures_of(expected_failures, pipeline)
    # the lane's rows left as columns: the same rows once they are made records
    decided, failures, lane, _ = pipeline.prepare_table(table, {}, as_records=False)
    assert lane is not None
    together = records_of(lane) + decided
    assert sorted(described(together), key=str) == sorted(described(expected_records), key=str)
    assert failures_of(failures, pipeline) == failures_of(expected_failures, pipeline)
    return lane


def test_a_clean_page_stays_in_the_lane(make_spec):
    table = page([clean_row(n) for n in range(200)])
    lane = assert_same_as_json(make_spec(SPEC), table)
    assert lane.slow == []
    assert lane.frame.get_column(POSITION).to_list() == list(range(200))


def test_messy_values_come_out_as_from_json(make_spec):
    lane = assert_same_as_json(make_spec(SPEC), page(messy_rows()))
    assert lane.slow  # rows left the lane, and the row-wise stages decided them the same


def test_each_messy_value_alone(make_spec):
    spec = make_spec(SPEC)
    for name, values in MESSY.items():
        for value in values:
            rows = [clean_row(n) for n in range(4)]
            rows[1][name] = value
            assert_same_as_json(spec, page(rows))


def test_dates_and_timestamps_python_cannot_hold_fail_their_rows_alone(make_spec):
    """Arrow holds years beyond 1..9999, Python does not: such a row leaves the lane, and
    the row-wise stages refuse its value (as Arrow's ISO text) with the reason."""
    table = page([clean_row(n) for n in range(5)])
    days = table.column("due").cast(pa.int32()).to_pylist()
    days[1] = 2_932_897 + 1  # 10000-01-02
    micros = table.column("changed_at").cast(pa.int64()).to_pylist()
    micros[2] = 253_402_300_800 * 10**6  # 10000-01-01T00:00:00Z
    micros[3] = -62_135_596_800 * 10**6 - 1  # a microsecond before year 1
    table = table.set_column(
        table.schema.get_field_index("due"), "due", pa.array(days, pa.int32()).cast(pa.date32())
    ).set_column(
        table.schema.get_field_index("changed_at"),
        "changed_at",
        pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
    )
    spec = make_spec(SPEC)

    lane = assert_same_as_json(spec, table)

    assert lane.slow == [1, 2, 3]
    _, failures, _, _ = EntityPipeline(spec).prepare_table(table, {}, as_records=False)
    assert [(f.stage, f.raw["item_no"]) for f in failures] == [
        ("normalize", "IT-00001"),
        ("normalize", "IT-00002"),
        ("normalize", "IT-00003"),
    ]
    assert "10000-01-02" in failures[0].error
    assert "10000-01-01T00:00:00.000000+00:00" in failures[1].error
    assert last_json_value(table.slice(0, 3), "changed_at") == "10000-01-01T00:00:00.000000+00:00"


def test_a_timestamp_python_cannot_hold_is_written_as_its_instant_in_utc():
    """Its JSON form names the instant whatever the column's zone (in Berlin, one hour
    after the last instant of year 9999 in UTC is 10000-01-01 01:59:59 on the wall)."""
    last_second = 253_402_300_799 * 10**6  # 9999-12-31T23:59:59Z
    column = pa.array([last_second + 3_600 * 10**6], pa.timestamp("us", tz="Europe/Berlin"))
    assert json_column(column) == ["10000-01-01T00:59:59.000000+00:00"]


def test_a_repeated_key_is_decided_by_the_row_wise_delta(make_spec):
    rows = [clean_row(n) for n in range(5)] + [clean_row(2)]
    decided, _, lane, _ = EntityPipeline(make_spec(SPEC)).prepare_table(
        page(rows), {}, as_records=False
    )
    assert lane is None
    assert len(decided) == 6


def test_a_column_of_another_type_sends_the_page_row_by_row(make_spec):
    spec = make_spec(SPEC)
    rows = [clean_row(n) for n in range(5)]
    table = page(rows).set_column(
        3, "price", pa.array([float(r["price"]) for r in rows], pa.float64())
    )
    assert not EntityPipeline(spec).lane_takes(table.schema)
    decided, failures, lane, _ = EntityPipeline(spec).prepare_table(table, {}, as_records=False)
    assert lane is None
    assert not failures
    assert described(decided) == described(row_wise(spec, json_rows(table))[0])


TEXT_READ_SPEC = {
    "columns": {
        "item_no": "string",
        "price": "string",
        "qty": "string",
        "due": "string",
        "active": "string",
        "at": "string",
    },
    "business_keys": ["item_no"],
    "fields": [
        {"source_field": "item_no", "target_field": "item_no", "type": "text"},
        {"source_field": "price", "target_field": "price", "type": "numeric"},
        {"source_field": "qty", "target_field": "qty", "type": "integer", "required": True},
        {"source_field": "due", "target_field": "due", "type": "date"},
        {"source_field": "active", "target_field": "active", "type": "boolean"},
        {"source_field": "at", "target_field": "at", "type": "text"},
    ],
}
TEXT_READ_MESSY = {
    "price": ["1,000.50", "2.5", " 3.50 ", "", "x", "1E+3", None],
    "qty": ["1.000", "(100)", "99999999999999999999", "", "x", None],
    "due": ["31-DEC-25", "08.12.2025", "2025-02-30", "", None],
    "active": ["yes", "N", "maybe", "", None],
}


def text_read_row(n):
    return {
        "item_no": f"IT-{n:05d}",
        "price": f"{n}.25",
        "qty": str(n),
        "due": "2025-12-31",
        "active": "true" if n % 2 else "false",
        "at": "2025-12-08T10:30:00+01:00",
    }


def test_text_columns_read_as_numbers_dates_and_booleans_in_the_lane(make_spec):
    """An ERP that keeps numbers, dates and booleans as text: the normalize layer's own
    functions convert them over the column, and what they reject goes row-wise."""
    spec = make_spec(TEXT_READ_SPEC)
    text_page = pa.Table.from_pylist
    lane = assert_same_as_json(spec, text_page([text_read_row(n) for n in range(20)]))
    assert lane.slow == []
    rows = with_each_value(text_read_row, TEXT_READ_MESSY, 3)
    lane = assert_same_as_json(spec, text_page(rows))
    assert 0 < len(lane.slow) < len(rows)


def test_text_read_as_a_timestamp_in_the_lane(make_spec):
    """Offsets, wall times in the source's zone (one skipped, one repeated by a clock
    change), and what the lane cannot hold: text that is no timestamp, and an instant
    before year 1 in UTC."""
    description = {
        **TEXT_READ_SPEC,
        "fields": [
            *TEXT_READ_SPEC["fields"][:-1],
            {"source_field": "at", "target_field": "at", "type": "timestamp"},
        ],
        "timezone": "Europe/Berlin",
    }
    by_time = make_spec(description)
    messy = {
        "at": [
            "2025-03-30T02:30:00",
            "2025-10-26T02:30:00",
            "2025-06-01 08:00:00.123456",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-01:00",
            "x",
            "",
            None,
        ]
    }
    rows = with_each_value(text_read_row, messy, 3)
    table = pa.Table.from_pylist(rows)
    assert EntityPipeline(by_time).lane_takes(table.schema)
    lane = assert_same_as_json(by_time, table)
    assert 0 < len(lane.slow) < len(rows)
    instants = lane.frame.get_column("at")
    assert instants.dtype.time_zone == "UTC"
    # as the rowversion, its text keeps the offset it came with: row by row
    by_rowversion = make_spec({**description, "rowversion": "at"})
    assert not EntityPipeline(by_rowversion).lane_takes(table.schema)
    decided, _, lane, _ = EntityPipeline(by_rowversion).prepare_table(table, {}, as_records=False)
    assert lane is None
    assert decided[0].rowversion == datetime.fromisoformat("2025-12-08T10:30:00+01:00")
    assert str(decided[0].rowversion).endswith("+01:00")


def test_json_form_of_arrow_values():
    table = page([clean_row(1)])
    (row,) = json_rows(table)
    assert row["price"] == "1.500"
    assert row["due"] == "2025-12-31"
    assert row["changed_at"] == "2025-12-08T09:00:01.000001+00:00"
    assert last_json_value(table, "changed_at") == row["changed_at"]
    assert last_json_value(page([{**clean_row(1), "changed_at": None}]), "changed_at") is None


@pytest.mark.parametrize("count", [0, 1])
def test_small_pages(make_spec, count):
    assert_same_as_json(make_spec(SPEC), page([clean_row(n) for n in range(count)]))


MAPPED_SPEC = {
    "columns": {
        "item_no": "string",
        "status": "string",
        "qty": "string",
        "price": "number",
        "active": "boolean",
        "due": "date",
        "count": "integer",
    },
    "business_keys": ["item_no"],
    "fields": [
        {"source_field": "item_no", "target_field": "item_no", "type": "text"},
        {
            "source_field": "item_no",
            "target_field": "lower_no",
            "type": "text",
            "transform": "lower",
        },
        {
            "source_field": "status",
            "target_field": "status",
            "type": "text",
            "transform": {"map": {"A": "Active", "I": "Inaktiv \u00e4"}, "default": "Other"},
        },
        {
            "source_field": "status",
            "target_field": "status_required",
            "type": "text",
            "required": True,
            "transform": {"map": {"N": None}},
        },
        {
            "source_field": "status",
            "target_field": "weight",
            "type": "numeric",
            "transform": {"map": {"A": 1.5, "I": 2.25}, "default": None},
            "default_value": "0",
        },
        {
            "source_field": "status",
            "target_field": "code",
            "type": "integer",
            "transform": {"map": {"A": 1, "I": 2, "B": 2**70}, "default": 0},
        },
        # mapped to two types, so read as text and converted by the map
        {"source_field": "qty", "target_field": "qty", "type": "integer"},
        {"source_field": "qty", "target_field": "qty_text", "type": "text"},
        {"source_field": "price", "target_field": "whole_price", "type": "integer"},
        {"source_field": "price", "target_field": "price_text", "type": "text"},
        {"source_field": "active", "target_field": "active_text", "type": "text"},
        {"source_field": "due", "target_field": "due_text", "type": "text"},
        {"source_field": "count", "target_field": "amount", "type": "numeric"},
        {"source_field": "count", "target_field": "flag", "type": "boolean"},
        {
            "source_field": "due",
            "target_field": "due",
            "type": "date",
            "default_value": "2025-01-01",
        },
    ],
}
MAPPED_TYPES = {
    "item_no": pa.string(),
    "status": pa.string(),
    "qty": pa.string(),
    "price": pa.decimal128(38, 2),
    "active": pa.bool_(),
    "due": pa.date32(),
    "count": pa.int64(),
}


def mapped_row(n):
    return {
        "item_no": f"IT-{n:05d}",
        "status": "A",
        "qty": str(n),
        "price": Decimal(f"{n}.00"),
        "active": n % 2 == 0,
        "due": date(2025, 12, 31),
        "count": n % 2,
    }


MAPPED_MESSY = {
    # I maps to 2.25 (another scale than A's 1.5), B to an integer beyond bigint
    "status": ["I", "B", "N", "X", None, " A "],
    "qty": ["x", " 7 ", "-12", "99999999999999999999", None],
    "price": [Decimal("2.50"), Decimal("-3.00"), None],
    "count": [5, -1, None],
    "due": [None],
}


def mapped_page(rows):
    return pa.table(
        {name: pa.array([r[name] for r in rows], t) for name, t in MAPPED_TYPES.items()}
    )


def test_transforms_defaults_and_conversions_are_mapped_in_the_lane(make_spec):
    spec = make_spec(MAPPED_SPEC)
    clean = [mapped_row(n) for n in range(20)]
    assert EntityPipeline(spec).lane_takes(mapped_page(clean).schema)
    lane = assert_same_as_json(spec, mapped_page(clean))
    assert lane.slow == []  # a clean page is mapped in the lane, no row handed back
    rows = with_each_value(mapped_row, MAPPED_MESSY, 4)
    lane = assert_same_as_json(spec, mapped_page(rows))
    assert 0 < len(lane.slow) < len(rows)


def test_mappings_into_a_timestamp_are_made_in_the_lane(make_spec):
    """A date at midnight in the source's zone (one on the day clocks change), seconds
    since the epoch; a day whose midnight falls before year 1 in UTC leaves the lane."""
    spec = make_spec(
        {
            "columns": {"no": "string", "day": "date", "epoch": "integer"},
            "fields": [
                {"source_field": "no", "target_field": "no", "type": "text"},
                {"source_field": "day", "target_field": "at", "type": "timestamp"},
                {"source_field": "epoch", "target_field": "then", "type": "timestamp"},
            ],
            "timezone": "Europe/Berlin",
        }
    )
    days = [date(2025, 3, 30), date(2025, 10, 26), date(1, 1, 1), None, date(9999, 12, 31)]
    table = pa.table(
        {
            "no": [f"P{n}" for n in range(len(days))],
            "day": pa.array(days, pa.date32()),
            "epoch": pa.array([0, 1_750_000_000, -1, None, 253_402_300_799], pa.int64()),
        }
    )
    assert EntityPipeline(spec).lane_takes(table.schema)
    lane = assert_same_as_json(spec, table)
    assert lane.slow == [2]


_CASE_TYPES = {
    FieldType.TEXT: pa.string(),
    FieldType.INTEGER: pa.int64(),
    FieldType.NUMERIC: None,  # as pyarrow infers it from the case's decimals
    FieldType.DATE: pa.date32(),
    FieldType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    FieldType.BOOLEAN: pa.bool_(),
}


def case_column(values, kind):
    """A case's column typed as its field, else as text (an ERP's text column), else
    ``None``: values of several types (a JSON-only case)."""
    for arrow_type in (_CASE_TYPES[kind], pa.string()):
        try:
            return pa.array(values, arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            continue
    return None


def case_page(spec, raws):
    """A case's rows as APISmith would type them, or ``None``."""
    columns = {
        name: case_column([raw.get(name) for raw in raws], kind)
        for name, kind in Normalizer(spec).value_types.items()
    }
    if any(column is None for column in columns.values()):
        return None
    return pa.table(columns)


@pytest.mark.parametrize(
    ("file", "least"),
    [("map_fields.json", 17), ("validate_rows.json", 6), ("normalize_rows.json", 5)],
)
def test_the_stage_cases_the_lane_takes_come_out_as_from_json(case_file, make_spec, file, least):
    """Every case whose rows Arrow can type runs both ways; ``least`` of them must
    be taken by the lane (the rest hold values only JSON carries)."""
    taken = 0
    for case in case_file(file)["rows"]:
        spec = make_spec(case["spec"])
        raws = case.get("rows") or case.get("values_list") or [case["values"]]
        table = case_page(spec, raws)
        if table is None or not EntityPipeline(spec).lane_takes(table.schema):
            continue
        assert_same_as_json(spec, table)
        taken += 1
    assert taken >= least
