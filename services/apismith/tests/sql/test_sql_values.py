"""JSON values to column and parameter types: exact decimals, ISO 8601, clear 400s."""

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from apismith.sql import ParamSpec, bind_params, coerce_value
from bridge_core.errors import BadRequest


@pytest.mark.parametrize(
    ("data_type", "value", "expected"),
    [
        ("string", "O'Brien; DROP TABLE x", "O'Brien; DROP TABLE x"),
        ("integer", 42, 42),
        ("integer", "-17", -17),
        ("integer", 3.0, 3),
        ("integer", "123456789012345678901234567890", 123456789012345678901234567890),
        ("number", "12.50", Decimal("12.50")),
        ("number", 0.1, Decimal("0.1")),
        ("number", 7, Decimal(7)),
        ("number", "1e3", Decimal("1e3")),
        ("number", "12345678901234567890.123456789", Decimal("12345678901234567890.123456789")),
        ("boolean", True, True),
        ("boolean", "false", False),
        ("boolean", 1, True),
        ("date", "2024-02-29", date(2024, 2, 29)),
        (
            "timestamp",
            "2024-05-31T13:45:00.123456+02:00",
            datetime(2024, 5, 31, 13, 45, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("timestamp", "2024-05-31T13:45:00Z", datetime(2024, 5, 31, 13, 45, tzinfo=UTC)),
        ("timestamp", "2024-05-31 13:45:00", datetime(2024, 5, 31, 13, 45)),
        ("time", "13:45:30", time(13, 45, 30)),
    ],
)
def test_values_convert_exactly(data_type, value, expected):
    converted = coerce_value(value, data_type, name="field 'x'")
    assert converted == expected
    assert type(converted) is type(expected)
    if isinstance(expected, datetime):
        assert converted.utcoffset() == expected.utcoffset()


def test_numbers_never_become_floats():
    assert str(coerce_value("0.10", "number", name="x")) == "0.10"
    assert isinstance(coerce_value(2.5, "number", name="x"), Decimal)


@pytest.mark.parametrize(
    ("data_type", "value", "expected"),
    [
        ("string", 12, "expected a string"),
        ("integer", "12.5", "expected an integer"),
        ("integer", True, "expected an integer"),
        ("integer", 1.5, "expected an integer"),
        ("number", "NaN", "expected a number"),
        ("number", "1_000", "expected a number"),
        ("number", "12,50", "expected a number"),
        ("number", False, "expected a number"),
        ("boolean", "yes", "expected true or false"),
        ("boolean", 2, "expected true or false"),
        ("date", "31.05.2024", "expected an ISO 8601 date"),
        ("date", "2024-05-31T10:00:00", "expected an ISO 8601 date"),
        ("timestamp", "yesterday", "expected an ISO 8601 timestamp"),
        ("timestamp", 1717000000, "expected an ISO 8601 timestamp"),
        ("time", "25:00", "expected an ISO 8601 time"),
        ("json", "{}", "json values cannot be compared"),
    ],
)
def test_bad_values_are_400_naming_field_and_type(data_type, value, expected):
    with pytest.raises(BadRequest) as raised:
        coerce_value(value, data_type, name="field 'amount'")
    assert raised.value.detail.startswith("field 'amount': ")
    assert expected in raised.value.detail


DECLARED = [
    ParamSpec("status", "string", required=True),
    ParamSpec("since", "timestamp", default="2024-01-01T00:00:00+00:00"),
    ParamSpec("min_total", "number"),
]


def test_params_are_typed_with_defaults_and_nulls():
    values = bind_params(declared=DECLARED, supplied={"status": "open", "min_total": "10.00"})
    assert values == {
        "status": "open",
        "since": datetime(2024, 1, 1, tzinfo=UTC),
        "min_total": Decimal("10.00"),
    }
    assert bind_params(declared=DECLARED, supplied={"status": "x"})["min_total"] is None


@pytest.mark.parametrize(
    ("supplied", "error"),
    [
        ({}, "parameter 'status' is required"),
        ({"status": None}, "parameter 'status' is required"),
        ({"status": "open", "limit": 5}, "unknown parameter 'limit'"),
        ({"status": "open", "since": "soon"}, "parameter 'since': expected an ISO 8601 timestamp"),
    ],
)
def test_bad_params_are_400(supplied, error):
    with pytest.raises(BadRequest, match=error):
        bind_params(declared=DECLARED, supplied=supplied)
