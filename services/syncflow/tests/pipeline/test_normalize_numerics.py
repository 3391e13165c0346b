"""Numerics layer: formatted numbers read exactly, ambiguous ones refused."""

import re
from decimal import Decimal

import pytest

from syncflow.pipeline.normalize.numerics import parse_integer, parse_number


@pytest.mark.cases("normalize_numerics.json", "numbers")
def test_parse_number(case):
    options = {"decimal_comma": case.get("decimal_comma", False)}
    if "error" in case:
        with pytest.raises(ValueError, match=re.escape(case["error"])):
            parse_number(case["input"], **options)
        return
    result = parse_number(case["input"], **options)
    if case["expected"] is None:
        assert result is None
    else:
        assert isinstance(result, Decimal)
        assert result == Decimal(case["expected"])


@pytest.mark.cases("normalize_numerics.json", "integers")
def test_parse_integer(case):
    if "error" in case:
        with pytest.raises(ValueError, match=re.escape(case["error"])):
            parse_integer(case["input"])
        return
    result = parse_integer(case["input"])
    assert result == case["expected"]
    assert result is None or type(result) is int


def test_decimal_scale_is_kept():
    """``1000.50`` stays two places: the source's precision is data, not noise."""
    assert str(parse_number("$1,000.50")) == "1000.50"
    assert str(parse_number("1.000,50", decimal_comma=True)) == "1000.50"
