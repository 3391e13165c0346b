"""Map: rename, transforms, value maps, defaults and conversions to the field type."""

import re
from decimal import Decimal

import pytest

from services.syncflow.tests.pipeline.typed_values import shape
from syncflow.domain import Record, Stage
from syncflow.pipeline.map import Mapper


@pytest.mark.cases("map_fields.json", "rows")
def test_map_rows(case, make_spec):
    mapper = Mapper(make_spec(case["spec"]))
    values_list = case["values_list"] if "values_list" in case else [case["values"]]
    records = [
        Record(raw={"row": index}, values=values) for index, values in enumerate(values_list)
    ]
    result = mapper.map(records)
    if "error" in case:
        assert result.records == []
        (failure,) = result.failures
        assert failure.stage is Stage.MAP
        assert failure.error == case["error"]
        assert failure.raw == {"row": 0}
        return
    assert result.failures == []
    expected = case["target_list"] if "target_list" in case else [case["target"]]
    assert [{k: shape(v) for k, v in r.target.items()} for r in result.records] == [
        {k: shape(v) for k, v in target.items()} for target in expected
    ]


@pytest.mark.cases("map_fields.json", "build_errors")
def test_impossible_mappings_fail_when_built(case, make_spec):
    with pytest.raises(ValueError, match=re.escape(case["error"])):
        Mapper(make_spec(case["spec"]))


def test_target_follows_field_order(make_spec):
    spec = make_spec(
        {
            "columns": {"id": "integer", "b": "string", "a": "number"},
            "fields": [
                {"source_field": "a", "type": "text"},
                {"source_field": "id", "type": "integer"},
                {"source_field": "b", "type": "text"},
            ],
        }
    )
    (record,) = (
        Mapper(spec).map([Record(raw={}, values={"id": 1, "b": "x", "a": Decimal(1)})]).records
    )
    assert list(record.target) == ["a", "id", "b"]
