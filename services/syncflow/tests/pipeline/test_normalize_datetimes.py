"""Datetimes layer: every accepted format, the RR rule, slash order and DST edges."""

import re

import pytest

from syncflow.pipeline.normalize.datetimes import DateTimeReader


@pytest.mark.cases("normalize_datetimes.json", "datetimes")
def test_read_datetimes(case):
    reader = DateTimeReader(
        case.get("timezone", "Europe/Berlin"),
        slash_day_first=case.get("slash_day_first", False),
    )
    if "error" in case:
        with pytest.raises(ValueError, match=re.escape(case["error"])):
            reader.parse_timestamp(case["input"])
        with pytest.raises(ValueError, match=re.escape(case["error"])):
            reader.parse_date(case["input"])
        return
    moment = reader.parse_timestamp(case["input"])
    assert moment.tzinfo is not None
    assert moment.isoformat() == case["timestamp"]
    assert reader.parse_date(case["input"]).isoformat() == case["date"]


def test_unknown_source_timezone_is_refused():
    with pytest.raises(ValueError, match="unknown source timezone 'Mars/Olympus'"):
        DateTimeReader("Mars/Olympus")
