"""The columnar lane gives exactly what the row-wise stages give, on clean and messy rows.

``EntityPipeline.prepare`` runs a chunk a column at a time and hands the rows it cannot
vouch for to the row-wise stages; these tests run the row-wise stages alone on the same
rows (the reference) and compare every record and every failure.
"""

from decimal import Decimal

import pytest

from services.syncflow.tests.pipeline.typed_values import shape
from syncflow.domain import Record
from syncflow.pipeline.identity import Identity
from syncflow.pipeline.map import Mapper
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.prepare import EntityPipeline
from syncflow.pipeline.validate import Validator


def row_wise(spec, raws):
    """The reference: the four row stages, one row at a time."""
    records = [Record(raw=raw) for raw in raws]
    failures = []
    for stage in (
        Normalizer(spec).normalize,
        Validator(spec).validate,
        Mapper(spec).map,
        Identity(spec).assign,
    ):
        result = stage(records)
        records = result.records
        failures.extend(result.failures)
    return records, failures


def described(records, raw=id):
    """What a test compares of each record (``raw``: how the raw row is told apart)."""
    return [
        (
            raw(r.raw),
            {k: shape(v) for k, v in r.values.items()},
            {k: shape(v) for k, v in r.target.items()},
            shape(r.rowversion),
            r.key_hash,
            r.data_hash,
            r.parent_key_hashes,
        )
        for r in records
    ]


def assert_same_as_row_wise(spec, raws):
    records, failures = EntityPipeline(spec).prepare(raws, {})
    expected_records, expected_failures = row_wise(spec, raws)
    assert described(records) == described(expected_records)
    expected = EntityPipeline(spec)._with_key  # failures name their row's key either way
    assert sorted((f.stage, f.error, id(f.raw), f.key_hash) for f in failures) == sorted(
        (f.stage, f.error, id(f.raw), expected(f).key_hash) for f in expected_failures
    )
    return records, failures


def assert_case_the_same(case, make_spec):
    spec = make_spec(case["spec"])
    raws = case.get("rows") or case.get("values_list") or [case["values"]]
    # the case's rows as a chunk, and repeated (a chunk with duplicates)
    assert_same_as_row_wise(spec, [dict(raw) for raw in raws])
    assert_same_as_row_wise(spec, [dict(raw) for raw in raws * 3])


@pytest.mark.cases("normalize_rows.json", "rows")
def test_normalize_cases_come_out_the_same(case, make_spec):
    assert_case_the_same(case, make_spec)


@pytest.mark.cases("map_fields.json", "rows")
def test_map_cases_come_out_the_same(case, make_spec):
    assert_case_the_same(case, make_spec)


@pytest.mark.cases("validate_rows.json", "rows")
def test_validate_cases_come_out_the_same(case, make_spec):
    assert_case_the_same(case, make_spec)


MESSY_SPEC = {
    "columns": {
        "item_no": "string",
        "site": "string",
        "qty": "integer",
        "price": "number",
        "active": "boolean",
        "due": "date",
        "changed_at": "timestamp",
        "note": "string",
        "parent_no": "string",
    },
    "business_keys": ["item_no", "site"],
    "rowversion": "changed_at",
    "timezone": "Europe/Berlin",
    "parent_refs": [{"parent_entity": "parts", "fields": ["parent_no"], "parent_fields": ["no"]}],
}


def clean_row(n):
    return {
        "item_no": f"IT-{n:05d}",
        "site": "B1",
        "qty": n,
        "price": f"{n}.50",
        "active": n % 2 == 0,
        "due": "2025-12-31",
        "changed_at": f"2025-12-08T10:{n % 60:02d}:00+01:00",
        "note": "ok",
        "parent_no": f"P-{n % 7}",
    }


MESSY_VALUES = {
    "item_no": [None, "  ", " IT-X ", "IT-\u00c4", "IT-A\u0308", "IT-\x07bell", "IT\r\nCR"],
    "site": [None, "", "B1 ", "\tB2"],
    "qty": ["10,000", "(100)", "1e3", 2**70, True, 1.5, "12.0", None, "x"],
    "price": [
        "$1,000.50",
        "1.000,50 \u20ac",
        "-",
        "1E+3",
        "-0.00",
        "100.000",
        12.25,
        7,
        "NaN",
        "1.2.3",
        None,
        " 5 ",
    ],
    "active": ["yes", "N", 1, 0, 2, "maybe", None],
    "due": ["31-DEC-25", "08.12.2025", "2025-02-30", "2025-W01-1", "20251208", None, ""],
    "changed_at": ["2025-12-08 10:30", "08.12.2025 10:30", None, "garbage"],
    "note": ["a\tb", "  padded  ", "\u00a0nbsp\u00a0", "x" * 300, "back\\slash", None],
    "parent_no": [None, " P-1 ", ""],
}


def messy_rows():
    rows = [clean_row(n) for n in range(40)]
    n = 40
    for field, values in MESSY_VALUES.items():
        for value in values:
            row = clean_row(n)
            row[field] = value
            rows.append(row)
            n += 1
    rows.append({"item_no": "IT-MISSING", "site": "B1"})  # fields missing from the row
    rows.append(dict(clean_row(3)))  # a duplicate key, as sent twice
    return rows


def test_messy_rows_come_out_the_same(make_spec):
    records, failures = assert_same_as_row_wise(make_spec(MESSY_SPEC), messy_rows())
    assert len(records) > 40
    assert failures  # the chunk holds rows that fail, and they failed the same way


def test_messy_rows_one_field_at_a_time(make_spec):
    """Each messy value alone among clean rows, so no other value hides its effect."""
    spec = make_spec(MESSY_SPEC)
    for field, values in MESSY_VALUES.items():
        for value in values:
            rows = [clean_row(n) for n in range(5)]
            rows[2][field] = value
            assert_same_as_row_wise(spec, rows)


def test_mapped_fields_with_transforms_defaults_and_value_maps(make_spec):
    spec = make_spec(
        {
            "columns": {"no": "string", "status": "string", "qty": "string", "at": "timestamp"},
            "business_keys": ["no"],
            "fields": [
                {"source_field": "no", "target_field": "part_no", "type": "text"},
                {
                    "source_field": "status",
                    "target_field": "status",
                    "type": "text",
                    "transform": {"map": {"A": "Active", "I": "Inactive"}, "default": "Other"},
                },
                {
                    "source_field": "qty",
                    "target_field": "qty",
                    "type": "numeric",
                    "default_value": "0",
                },
                {
                    "source_field": "no",
                    "target_field": "lower_no",
                    "type": "text",
                    "transform": "lower",
                },
                {"source_field": "at", "target_field": "day", "type": "date", "required": True},
            ],
        }
    )
    rows = [
        {"no": "P1", "status": "A", "qty": "1,5", "at": "2025-12-08T23:30:00+00:00"},
        {"no": "P2", "status": "X", "qty": None, "at": "2025-12-08T10:00:00+01:00"},
        {"no": "P3", "status": None, "qty": "abc", "at": None},
        {"no": "P4", "status": "I", "qty": Decimal("2.50"), "at": "2025-06-01"},
    ]
    assert_same_as_row_wise(spec, rows)


def test_a_clean_chunk_stays_in_the_columnar_lane(make_spec):
    """The fast path is taken: a clean chunk leaves no row to the row-wise stages."""
    spec = make_spec(MESSY_SPEC)
    pipeline = EntityPipeline(spec)
    rows = [clean_row(n) for n in range(500)]
    placed, slow = pipeline._columnar.run(rows, {}, lambda: 0.0)
    assert slow == set()
    assert all(record is not None for record in placed)


def test_an_empty_chunk(make_spec):
    assert EntityPipeline(make_spec(MESSY_SPEC)).prepare([], {}) == ([], [])
