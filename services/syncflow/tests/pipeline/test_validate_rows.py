"""Validate: business keys, required fields and integer range, one message per row."""

import pytest

from syncflow.domain import Record, Stage
from syncflow.pipeline.validate import Validator


@pytest.mark.cases("validate_rows.json", "rows")
def test_validate_row(case, make_spec):
    record = Record(raw={"source": "row"}, values=case["values"])
    result = Validator(make_spec(case["spec"])).validate([record])
    if case["error"] is None:
        assert result.records == [record]
        assert result.failures == []
    else:
        assert result.records == []
        (failure,) = result.failures
        assert failure.stage is Stage.VALIDATE
        assert failure.error == case["error"]
        assert failure.raw == {"source": "row"}


def test_bad_rows_stop_and_good_rows_go_on_in_order(make_spec):
    spec = make_spec({"columns": {"id": "integer", "name": "string"}})
    records = [Record(raw={"n": n}, values={"id": n or None, "name": "x"}) for n in (1, 0, 2)]
    result = Validator(spec).validate(records)
    assert [r.values["id"] for r in result.records] == [1, 2]
    assert [f.raw for f in result.failures] == [{"n": 0}]
