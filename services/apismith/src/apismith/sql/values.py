"""JSON values (filter values, parameter values) converted to a column's or parameter's type.

Numbers become ``Decimal`` (never ``float``), so exact decimals survive; numeric
strings are accepted because JSON clients send big or exact decimals as strings.
Timestamps are ISO 8601 strings, with an offset (aware) or without (naive).
"""

import math
import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_core.errors import BadRequest

# column types whose values can be compared; json and binary can only be tested for NULL
VALUE_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp", "time")

_EXPECTED = {
    "string": "a string",
    "integer": 'an integer (e.g. 42 or "42")',
    "number": 'a number (e.g. 12.50 or "12.50")',
    "boolean": "true or false",
    "date": 'an ISO 8601 date (e.g. "2024-05-31")',
    "timestamp": 'an ISO 8601 timestamp (e.g. "2024-05-31T13:45:00+02:00")',
    "time": 'an ISO 8601 time (e.g. "13:45:00")',
}
_INTEGER = re.compile(r"[+-]?\d{1,100}")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?")
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def coerce_value(value: Any, data_type: str, *, name: str) -> Any:
    """``value`` as ``data_type`` (one of VALUE_TYPES); 400 naming ``name`` when it does not fit."""
    if data_type not in _EXPECTED:
        raise BadRequest(f"{name}: {data_type} values cannot be compared")
    converted = _CONVERTERS[data_type](value)
    if converted is None:
        raise BadRequest(f"{name}: expected {_EXPECTED[data_type]}, got {_show(value)}")
    return converted


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else None
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    return None


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr is the shortest string that reads back as this float: 0.1 -> Decimal("0.1")
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return _BOOLEANS.get(value.strip().lower())
    return None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _time(value: Any) -> time | None:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "timestamp": _timestamp,
    "time": _time,
}
