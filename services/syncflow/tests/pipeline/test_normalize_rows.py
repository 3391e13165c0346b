"""The Normalizer over whole rows: coercion by column type, options, failures."""

from datetime import datetime

import pytest

from services.syncflow.tests.pipeline.typed_values import shape
from syncflow.domain import Record, Stage
from syncflow.pipeline.normalize import Normalizer


@pytest.mark.cases("normalize_rows.json", "rows")
def test_normalize_rows(case, make_spec):
    records = [Record(raw=row) for row in case["rows"]]
    result = Normalizer(make_spec(case["spec"])).normalize(records)
    assert [{k: shape(v) for k, v in r.values.items()} for r in result.records] == [
        {k: shape(v) for k, v in expected.items()} for expected in case["values"]
    ]
    assert [f.error for f in result.failures] == case["failures"]
    assert all(f.stage is Stage.NORMALIZE for f in result.failures)
    failed_raws = [f.raw for f in result.failures]
    assert all(any(raw is r.raw for r in records) for raw in failed_raws)


def test_rowversion_is_the_normalized_value(make_spec):
    spec = make_spec(
        {"columns": {"id": "integer", "changed_at": "timestamp"}, "rowversion": "changed_at"}
    )
    (record,) = (
        Normalizer(spec)
        .normalize([Record(raw={"id": 1, "changed_at": "2025-12-08T10:30:00Z"})])
        .records
    )
    assert record.rowversion == datetime.fromisoformat("2025-12-08T10:30:00+00:00")


def test_columns_the_entity_does_not_use_are_left_alone(make_spec):
    """A bad value in a column that is not loaded must not fail the row."""
    spec = make_spec(
        {
            "columns": {"id": "integer", "name": "string", "legacy": "number"},
            "fields": [
                {"source_field": "id", "type": "integer"},
                {"source_field": "name", "type": "text"},
            ],
        }
    )
    result = Normalizer(spec).normalize([Record(raw={"id": 1, "name": "a", "legacy": "n/a"})])
    assert result.failures == []
    assert result.records[0].values == {"id": 1, "name": "a"}


def test_fields_named_only_by_the_definition_are_normalized_as_text(make_spec):
    spec = make_spec({"columns": {"id": "integer"}, "business_keys": ["id", "site"]})
    (record,) = Normalizer(spec).normalize([Record(raw={"id": 1, "site": " B1 "})]).records
    assert record.values == {"id": 1, "site": "B1"}


def test_unknown_source_timezone_fails_when_built(make_spec):
    spec = make_spec({"columns": {"id": "integer"}, "timezone": "Europe/Atlantis"})
    with pytest.raises(ValueError, match="unknown source timezone 'Europe/Atlantis'"):
        Normalizer(spec)
