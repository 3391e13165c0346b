"""Identity: the canonical encoding and both hashes, pinned by fixed vectors.

The expected hex digests in cases/identity_vectors.json are hard-coded: any change to
the encoding changes them and fails here (and would re-key every target row).
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from syncflow.domain import Record, Stage
from syncflow.pipeline.identity import (
    Identity,
    canonical_encoding,
    data_hash,
    key_hash,
    parent_key_hash,
)
from syncflow.pipeline.prepare import EntityPipeline


@pytest.mark.cases("identity_vectors.json", "vectors")
def test_vector(case):
    values = case["values"]
    assert canonical_encoding(values) == case["canonical"].encode()
    assert key_hash(values) == case["key_hash"]
    assert data_hash(values) == case["data_hash"]
    assert len(key_hash(values)) == 32
    assert len(data_hash(values)) == 64


@pytest.mark.cases("identity_vectors.json", "equal")
def test_same_value_same_hash(case):
    assert canonical_encoding(case["a"]) == canonical_encoding(case["b"])
    assert key_hash(case["a"]) == key_hash(case["b"])


@pytest.mark.cases("identity_vectors.json", "different")
def test_different_values_different_hash(case):
    assert canonical_encoding(case["a"]) != canonical_encoding(case["b"])
    assert key_hash(case["a"]) != key_hash(case["b"])
    assert data_hash(case["a"]) != data_hash(case["b"])


def spec_with_parent(make_spec):
    return make_spec(
        {
            "name": "order_lines",
            "columns": {
                "order_no": "string",
                "line_no": "integer",
                "site": "string",
                "item_no": "string",
                "qty": "number",
            },
            "business_keys": ["order_no", "line_no"],
            "fields": [
                {"source_field": "line_no", "type": "integer"},
                {"source_field": "qty", "target_field": "quantity", "type": "numeric"},
            ],
            "parent_refs": [
                {
                    "parent_entity": "orders",
                    "fields": ["site", "order_no"],
                    "parent_fields": ["site", "no"],
                },
                {"parent_entity": "items", "fields": ["item_no"], "parent_fields": ["item_no"]},
            ],
        }
    )


def test_assign_sets_both_hashes_and_parent_key_hashes(make_spec):
    record = Record(
        raw={},
        values={
            "order_no": "SO-1",
            "line_no": 10,
            "site": "B1",
            "item_no": None,
            "qty": Decimal("2"),
        },
        target={"line_no": 10, "quantity": Decimal("2.0")},
    )
    result = Identity(spec_with_parent(make_spec)).assign([record])
    assert result.records == [record]
    assert record.key_hash == key_hash(["SO-1", 10])
    assert record.data_hash == data_hash([10, Decimal("2")])
    # the orders parent row keyed (site="B1", no="SO-1") hashes the same; no item: no entry
    assert record.parent_key_hashes == {"orders": key_hash(["B1", "SO-1"])}


def test_parent_key_hash_matches_the_parent_across_number_types():
    """A child may hold the parent's integer key as a decimal (Oracle NUMBER)."""
    assert parent_key_hash([Decimal("42.0"), "B1"]) == key_hash([42, "B1"])
    assert parent_key_hash([None, None]) is None
    assert parent_key_hash([None, "B1"]) == key_hash([None, "B1"])


def test_values_without_canonical_form_fail_the_row(make_spec):
    spec = make_spec({"columns": {"id": "integer", "at": "timestamp", "x": "number"}})
    good = Record(raw={"n": 1}, values={"id": 1}, target={"id": 1, "at": None, "x": None})
    naive = Record(
        raw={"n": 2}, values={"id": 2}, target={"id": 2, "at": datetime(2025, 1, 1), "x": None}
    )
    floating = Record(raw={"n": 3}, values={"id": 3}, target={"id": 3, "at": None, "x": 0.1})
    # midnight of year 1 east of UTC is an instant of year 0 in UTC
    early = datetime.fromisoformat("0001-01-01T00:00:00+05:00")
    too_early = Record(raw={"n": 4}, values={"id": 4}, target={"id": 4, "at": early, "x": None})
    result = Identity(spec).assign([good, naive, floating, too_early])
    assert result.records == [good]
    assert [(f.stage, f.error, f.raw) for f in result.failures] == [
        (Stage.IDENTITY, "a timestamp without a timezone has no canonical form", {"n": 2}),
        (Stage.IDENTITY, "a float value has no canonical form", {"n": 3}),
        (
            Stage.IDENTITY,
            "timestamp 0001-01-01T00:00:00+05:00 lies outside years 1..9999 in UTC: "
            "it has no canonical form",
            {"n": 4},
        ),
    ]
    assert result.failures[0].key_hash == key_hash([2])


def test_a_key_timestamp_without_canonical_form_fails_its_row_alone(make_spec):
    """Identity fails the row; naming the failure's key (which has no hash) must not
    raise out of the pipeline and fail the batch."""
    spec = make_spec({"columns": {"at": "timestamp", "q": "integer"}, "business_keys": ["at"]})
    rows = [{"at": "0001-01-01T00:00:00+05:00", "q": 1}, {"at": "2025-01-01T00:00:00Z", "q": 2}]
    records, failures = EntityPipeline(spec).prepare(rows, {})
    assert [r.raw["q"] for r in records] == [2]
    assert [(f.stage, f.key_hash, f.raw["q"]) for f in failures] == [(Stage.IDENTITY, None, 1)]
    assert "outside years 1..9999 in UTC" in failures[0].error


def test_hash_is_stable_for_the_same_instant_in_any_zone():
    winter = datetime(2025, 12, 8, 9, 30, tzinfo=UTC)
    assert data_hash([winter]) == data_hash([datetime.fromisoformat("2025-12-08T10:30:00+01:00")])
