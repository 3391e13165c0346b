"""Type coercion layer: a JSON value from APISmith becomes its field's Python type.

The type is :meth:`EntitySpec.value_type` (the API column's type, or the mapped type
of a text column): ``text`` -> ``str``, ``integer`` -> ``int``, ``numeric`` ->
``Decimal`` (a JSON float goes through its shortest repr, never through binary
arithmetic), ``boolean`` -> ``bool``, ``date`` -> ``date``, ``timestamp`` -> aware
``datetime``. Text always passes the strings layer first, then the numerics or
datetimes layer for those types. ``None`` stays ``None``. A value that cannot be
converted raises ``ValueError`` saying why.
"""

import json
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from math import isfinite
from typing import Any

from syncflow.domain import FieldType
from syncflow.pipeline.normalize.datetimes import DateTimeReader, from_epoch
from syncflow.pipeline.normalize.numerics import (
    INTEGER_DIGITS,
    integer_decimal,
    integral,
    parse_integer,
    parse_number,
    within_numeric_limits,
)
from syncflow.pipeline.normalize.strings import clean_text

Converter = Callable[[Any], Any]

_INTEGER_LIMIT = 10**INTEGER_DIGITS
BOOLEAN_WORDS: dict[str, bool] = {
    **dict.fromkeys(("true", "t", "yes", "y", "on", "1"), True),
    **dict.fromkeys(("false", "f", "no", "n", "off", "0"), False),
}
_JSON_KINDS = {bool: "boolean", int: "number", float: "number", dict: "object", list: "array"}


def converter(value_type: FieldType, *, reader: DateTimeReader, decimal_comma: bool) -> Converter:
    """The function that turns a raw value into ``value_type``."""
    match value_type:
        case FieldType.TEXT:
            return to_text
        case FieldType.INTEGER:
            return _integer_converter(decimal_comma)
        case FieldType.NUMERIC:
            return _numeric_converter(decimal_comma)
        case FieldType.BOOLEAN:
            return to_boolean
        case FieldType.DATE:
            return _date_converter(reader)
        case FieldType.TIMESTAMP:
            return _timestamp_converter(reader)


def to_text(value: Any) -> str | None:
    """Text, cleaned; other JSON values written out (``true``, ``12.5``, JSON text)."""
    if value.__class__ is str:
        return clean_text(value)
    if value is None:
        return None
    if value.__class__ is bool:
        return "true" if value else "false"
    if value.__class__ is int:
        return str(value)
    if value.__class__ is float:
        return format(_float_decimal(value), "f")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return clean_text(str(value))


def to_boolean(value: Any) -> bool | None:
    """``true/false``, ``1/0`` and the words in :data:`BOOLEAN_WORDS` (any case)."""
    if value.__class__ is bool or value is None:
        return value
    if value.__class__ is str:
        text = clean_text(value)
        if text is None:
            return None
        word = BOOLEAN_WORDS.get(text.lower())
        if word is None:
            raise ValueError("not a yes/no word")
        return word
    if value.__class__ in (int, float, Decimal):
        if value in (0, 1):
            return bool(value)
        raise ValueError("only 0 and 1 are booleans")
    raise _unexpected(value)


def _integer_converter(decimal_comma: bool) -> Converter:
    def to_integer(value: Any) -> int | None:
        if value.__class__ is int:
            if -_INTEGER_LIMIT < value < _INTEGER_LIMIT:
                return value
            raise ValueError(f"wider than {INTEGER_DIGITS} digits")
        if value is None:
            return None
        if value.__class__ is str:
            text = clean_text(value)
            return None if text is None else parse_integer(text, decimal_comma=decimal_comma)
        if value.__class__ is float:
            return integral(_float_decimal(value))
        if value.__class__ is Decimal:
            return integral(value)
        raise _unexpected(value)

    return to_integer


def _numeric_converter(decimal_comma: bool) -> Converter:
    def to_numeric(value: Any) -> Decimal | None:
        if value.__class__ is str:
            text = clean_text(value)
            return None if text is None else parse_number(text, decimal_comma=decimal_comma)
        if value is None:
            return None
        if value.__class__ is float:
            # every finite float is within numeric's limits
            if isfinite(value):
                return _float_decimal(value)
            raise ValueError("not a finite number")
        if value.__class__ is int:
            return integer_decimal(value)
        if value.__class__ is Decimal:
            return within_numeric_limits(value)
        raise _unexpected(value)

    return to_numeric


def _date_converter(reader: DateTimeReader) -> Converter:
    def to_date(value: Any) -> date | None:
        if value.__class__ is str:
            text = clean_text(value)
            return None if text is None else reader.parse_date(text)
        if value is None:
            return None
        if value.__class__ is datetime:
            return reader.local_date(value) if value.tzinfo is not None else value.date()
        if value.__class__ is date:
            return value
        raise _unexpected(value)

    return to_date


def _timestamp_converter(reader: DateTimeReader) -> Converter:
    def to_timestamp(value: Any) -> datetime | None:
        if value.__class__ is str:
            text = clean_text(value)
            return None if text is None else reader.parse_timestamp(text)
        if value is None:
            return None
        if value.__class__ is datetime:
            return value if value.tzinfo is not None else reader.localize(value)
        if value.__class__ is date:
            return reader.localize(datetime.combine(value, time()))
        if value.__class__ in (int, Decimal):
            return from_epoch(value)
        if value.__class__ is float:
            return from_epoch(_float_decimal(value))
        raise _unexpected(value)

    return to_timestamp


def _float_decimal(value: float) -> Decimal:
    """A JSON float as the decimal it was written as (its shortest repr)."""
    return Decimal(repr(value))


def _unexpected(value: Any) -> ValueError:
    kind = _JSON_KINDS.get(value.__class__, type(value).__name__)
    return ValueError(f"a JSON {kind} cannot be converted")
