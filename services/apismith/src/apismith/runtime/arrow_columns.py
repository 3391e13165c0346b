"""Python values as Arrow columns: a column's values, as a driver's ``fetch`` reads them,
built into one typed Arrow array (``execute``'s Arrow pages and ``/stream``'s batches).

Types (APISmith data type -> Arrow):

- integer -> int64, boolean -> bool, date -> date32, time -> time64[us],
  binary -> binary, timestamp -> timestamp[us, tz=UTC] (a naive value is read in the
  connection's time zone, as in JSON);
- json -> utf8 JSON text (a JSON string document keeps its quotes);
- string and anything else -> utf8 (the text of the JSON encoding);
- number on a page: decimal128(38, s), where s is the largest scale among the page's
  values, when every value is a Decimal or an int and fits 38 digits at that scale;
  float64 when every value is a float (float columns: the database's own binary value);
  otherwise (NaN or Infinity decimals, more than 38 digits, mixed kinds) utf8 with the
  digits JSON sends. A stream fixes its schema before the first row, so there a number
  is always utf8 text.

Each column goes to pyarrow in one call (C-level conversion). A column whose values do
not all have the Python type its Arrow type takes (a driver returning a Decimal for an
integer, naive and aware timestamps mixed, ...) is the rare case: it is converted a value
at a time, and a value that fits no longer gives a clear 502 naming the column.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from itertools import compress, repeat
from operator import attrgetter, is_not
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from apismith.drivers.base import ColumnInfo, ErpQueryError
from apismith.runtime.encoding import aware, encode_json, text_value

DECIMAL_PRECISION = 38
# the Arrow type of a timestamp column (its instants in UTC)
TIMESTAMP = pa.timestamp("us", tz="UTC")
# what pyarrow raises for a value that does not fit the type asked for
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)

_TZINFO = attrgetter("tzinfo")
_EXPONENT = attrgetter("exponent")
_NONE = type(None)


def _integer(value: Any) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError


def _boolean(value: Any) -> bool:
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise TypeError


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise TypeError


def _time(value: Any) -> time:
    if isinstance(value, time):
        return value
    raise TypeError


def _binary(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError


# per APISmith data type: the Arrow type, the Python types pyarrow takes as they are,
# and the converter of any other value (TypeError when it does not fit)
_FIXED: dict[str, tuple[pa.DataType, frozenset[type], Callable[[Any], Any]]] = {
    "integer": (pa.int64(), frozenset({int}), _integer),
    "boolean": (pa.bool_(), frozenset({bool}), _boolean),
    "date": (pa.date32(), frozenset({date}), _date),
    "time": (pa.time64("us"), frozenset({time}), _time),
    "binary": (pa.binary(), frozenset({bytes}), _binary),
}


def stream_type(column: ColumnInfo) -> pa.DataType:
    """The Arrow type of ``column`` in a stream, fixed before the first row."""
    if column.data_type == "timestamp":
        return TIMESTAMP
    if column.data_type in _FIXED:
        return _FIXED[column.data_type][0]
    return pa.string()


def _misfit(column: ColumnInfo, value: Any, arrow_type: pa.DataType) -> ErpQueryError:
    return ErpQueryError(
        f"column '{column.name}' returned a {type(value).__name__} value, "
        f"which does not fit its Arrow type {arrow_type}: the query's column "
        "types may have changed since the API was saved"
    )


def _one_by_one(
    values: Sequence[Any],
    column: ColumnInfo,
    arrow_type: pa.DataType,
    convert: Callable[[Any], Any],
) -> pa.Array:
    """The rare path: each value converted in Python, the first misfit named."""
    converted: list[Any] = []
    for value in values:
        try:
            converted.append(None if value is None else convert(value))
        except (TypeError, ValueError):
            raise _misfit(column, value, arrow_type) from None
    try:
        return pa.array(converted, type=arrow_type)
    except ARROW_ERRORS:
        # e.g. an integer past int64: find the value that does not fit
        for value in converted:
            try:
                pa.array([value], type=arrow_type)
            except ARROW_ERRORS:
                raise _misfit(column, value, arrow_type) from None
        raise


def _kinds(values: Sequence[Any]) -> set[type]:
    """The Python types of a column's non-NULL values (one C-level pass)."""
    kinds = set(map(type, values))
    kinds.discard(_NONE)
    return kinds


def is_utc(zone: tzinfo) -> bool:
    """Whether ``zone`` is UTC (where a naive value is already its instant)."""
    return zone is UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC")


def local_instants(local: pa.Array, zone: tzinfo) -> pa.Array | None:
    """Naive wall-clock times (timestamp[us]) read in ``zone`` as instants, in C; None
    where only Python's rule applies: a zone with no IANA key, or a skipped hour (where
    Python's rule and pyarrow's differ). "earliest" is Python's fold=0 for a repeated
    hour."""
    if is_utc(zone):
        return local.cast(TIMESTAMP)
    key = getattr(zone, "key", None)
    if not isinstance(key, str):
        return None
    try:
        return pc.assume_timezone(
            local, timezone=key, ambiguous="earliest", nonexistent="raise"
        ).cast(TIMESTAMP)
    except ARROW_ERRORS:
        return None


def timestamp_column(values: Sequence[Any], column: ColumnInfo, zone: tzinfo) -> pa.Array:
    """timestamp[us, UTC] of datetimes; a naive one is read in ``zone``."""
    kinds = _kinds(values)
    if kinds <= {datetime}:
        zones = set(map(_TZINFO, compress(values, map(is_not, values, repeat(None)))))
        if None not in zones or is_utc(zone):
            # aware values keep their instant, and pyarrow reads naive ones as UTC
            try:
                return pa.array(values, type=TIMESTAMP)
            except ARROW_ERRORS:
                pass
        elif zones == {None}:
            # all naive: wall-clock times made instants by pyarrow where it can
            try:
                local = pa.array(values, type=pa.timestamp("us"))
            except ARROW_ERRORS:
                pass
            else:
                instants = local_instants(local, zone)
                if instants is not None:
                    return instants

    def timestamp(value: Any) -> datetime:
        if isinstance(value, datetime):
            return aware(value, zone)  # pyarrow takes the offset (years 1 and 9999 too)
        raise TypeError

    return _one_by_one(values, column, TIMESTAMP, timestamp)


def _texts(values: Sequence[Any], zone: tzinfo) -> pa.Array:
    """utf8: text as is, anything else as the text of its JSON encoding."""
    if _kinds(values) <= {str}:
        return pa.array(values, type=pa.string())
    return pa.array([text_value(value, zone) for value in values], type=pa.string())


def _json_texts(values: Sequence[Any], zone: tzinfo) -> pa.Array:
    """utf8 JSON documents: each value as JSON text (a JSON string keeps its quotes)."""
    return pa.array(
        [None if value is None else encode_json(value, zone=zone).decode() for value in values],
        type=pa.string(),
    )


def _decimal_texts(values: Sequence[Any], zone: tzinfo) -> pa.Array:
    """utf8 for numbers that no exact Arrow number holds: the digits JSON sends."""
    return pa.array(
        [format(v, "f") if v.__class__ is Decimal else text_value(v, zone) for v in values],
        type=pa.string(),
    )


def decimal_scale(decimals: Sequence[Decimal]) -> int | None:
    """The largest scale (digits after the point, trailing zeros included) among
    ``decimals``; None when one of them is NaN or infinite."""
    if not decimals:
        return 0
    first = decimals[0]
    if all(map(first.same_quantum, decimals)):  # a numeric(p, s) column: one exponent
        exponents: set[int | str] = {first.as_tuple().exponent}
    else:
        exponents = set(map(_EXPONENT, map(Decimal.as_tuple, decimals)))
    finite = [exponent for exponent in exponents if isinstance(exponent, int)]
    if len(finite) < len(exponents):
        return None  # 'n', 'N' or 'F': NaN, sNaN, Infinity
    return max(0, -min(finite))


def _numbers(values: Sequence[Any], zone: tzinfo) -> pa.Array:
    kinds = _kinds(values)
    if kinds == {float}:
        return pa.array(values, type=pa.float64())
    if kinds <= {Decimal, int}:
        decimals = list(compress(values, map(isinstance, values, repeat(Decimal))))
        scale = decimal_scale(decimals)
        if scale is not None and scale <= DECIMAL_PRECISION:
            try:
                # pyarrow refuses a value with more than 38 digits at this scale
                return pa.array(values, type=pa.decimal128(DECIMAL_PRECISION, scale))
            except ARROW_ERRORS:
                pass
    return _decimal_texts(values, zone)


def page_column(
    values: Sequence[Any], column: ColumnInfo, zone: tzinfo, *, exact_numbers: bool
) -> pa.Array:
    """The Arrow array of one column's values; numbers as decimal128 (or float64) when
    ``exact_numbers``, else as utf8 text."""
    if column.data_type == "timestamp":
        return timestamp_column(values, column, zone)
    if column.data_type in _FIXED:
        arrow_type, native, convert = _FIXED[column.data_type]
        if _kinds(values) <= native:
            try:
                return pa.array(values, type=arrow_type)
            except ARROW_ERRORS:
                pass  # e.g. an integer past int64: the path below names it
        return _one_by_one(values, column, arrow_type, convert)
    if column.data_type == "number" and exact_numbers:
        return _numbers(values, zone)
    if column.data_type == "number":
        return _decimal_texts(values, zone)
    if column.data_type == "json":
        return _json_texts(values, zone)
    return _texts(values, zone)
