"""Rows as Arrow: typed columns built a column at a time, the ``/stream`` encoder and the
Arrow body of an ``execute`` page.

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

import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from itertools import compress, repeat
from operator import attrgetter, is_not
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from apismith.drivers.base import ARROW_TEXT_KIND, ColumnInfo, ErpQueryError
from apismith.runtime.encoding import (
    Row,
    RowEncoder,
    StreamFormat,
    aware,
    encode_json,
    text_value,
)

# the schema metadata key holding the columns as the JSON metadata lists them
COLUMNS_KEY = b"apismith.columns"
DECIMAL_PRECISION = 38

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_TZINFO = attrgetter("tzinfo")
_EXPONENT = attrgetter("exponent")
_NONE = type(None)
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)


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
        return _TIMESTAMP
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
    except _ARROW_ERRORS:
        # e.g. an integer past int64: find the value that does not fit
        for value in converted:
            try:
                pa.array([value], type=arrow_type)
            except _ARROW_ERRORS:
                raise _misfit(column, value, arrow_type) from None
        raise


def _kinds(values: Sequence[Any]) -> set[type]:
    """The Python types of a column's non-NULL values (one C-level pass)."""
    kinds = set(map(type, values))
    kinds.discard(_NONE)
    return kinds


def _is_utc(zone: tzinfo) -> bool:
    return zone is UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC")


def _timestamps(values: Sequence[Any], column: ColumnInfo, zone: tzinfo) -> pa.Array:
    kinds = _kinds(values)
    if kinds <= {datetime}:
        zones = set(map(_TZINFO, compress(values, map(is_not, values, repeat(None)))))
        if None not in zones or _is_utc(zone):
            # aware values keep their instant, and pyarrow reads naive ones as UTC
            try:
                return pa.array(values, type=_TIMESTAMP)
            except _ARROW_ERRORS:
                pass
        elif zones == {None} and isinstance(key := getattr(zone, "key", None), str):
            # all naive, in a named zone: wall-clock times made instants by pyarrow;
            # "earliest" is Python's fold=0 for a repeated hour, and a skipped hour
            # (where Python's rule and pyarrow's differ) takes the path below
            try:
                local = pa.array(values, type=pa.timestamp("us"))
                return pc.assume_timezone(
                    local, timezone=key, ambiguous="earliest", nonexistent="raise"
                ).cast(_TIMESTAMP)
            except _ARROW_ERRORS:
                pass

    def timestamp(value: Any) -> datetime:
        if isinstance(value, datetime):
            return aware(value, zone)  # pyarrow takes the offset (years 1 and 9999 too)
        raise TypeError

    return _one_by_one(values, column, _TIMESTAMP, timestamp)


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
            except _ARROW_ERRORS:
                pass
    return _decimal_texts(values, zone)


def page_column(
    values: Sequence[Any], column: ColumnInfo, zone: tzinfo, *, exact_numbers: bool
) -> pa.Array:
    """The Arrow array of one column's values; numbers as decimal128 (or float64) when
    ``exact_numbers``, else as utf8 text."""
    if column.data_type == "timestamp":
        return _timestamps(values, column, zone)
    if column.data_type in _FIXED:
        arrow_type, native, convert = _FIXED[column.data_type]
        if _kinds(values) <= native:
            try:
                return pa.array(values, type=arrow_type)
            except _ARROW_ERRORS:
                pass  # e.g. an integer past int64: the path below names it
        return _one_by_one(values, column, arrow_type, convert)
    if column.data_type == "number" and exact_numbers:
        return _numbers(values, zone)
    if column.data_type == "number":
        return _decimal_texts(values, zone)
    if column.data_type == "json":
        return _json_texts(values, zone)
    return _texts(values, zone)


def _columns(rows: Sequence[Row], width: int) -> list[Sequence[Any]]:
    """Rows turned into columns (in C)."""
    if not rows:
        return [() for _ in range(width)]
    return list(zip(*rows, strict=True))


def _metadata(columns_metadata: Sequence[dict[str, Any]]) -> dict[bytes, bytes]:
    return {COLUMNS_KEY: orjson.dumps(list(columns_metadata))}


def page_body(
    rows: Sequence[Row],
    columns: Sequence[ColumnInfo],
    zone: tzinfo,
    *,
    columns_metadata: Sequence[dict[str, Any]],
) -> bytes:
    """One page as an Arrow IPC stream: the schema (numbers typed by the page's values,
    the columns as JSON under ``apismith.columns``), one record batch unless the page
    is empty, the end-of-stream marker."""
    arrays = [
        page_column(values, column, zone, exact_numbers=True)
        for values, column in zip(_columns(rows, len(columns)), columns, strict=True)
    ]
    return _ipc_page(arrays, columns, columns_metadata, has_rows=bool(rows))


def native_values(array: pa.Array, kind: bytes | None) -> list[Any]:
    """A native column's values as the driver's ``fetch`` reads them (``Driver.fetch_arrow``):
    exact decimals as Decimal, JSON documents decoded (their numbers as Decimal)."""
    values: list[Any] = array.to_pylist()
    if kind == b"decimal":
        return [None if value is None else Decimal(value) for value in values]
    if kind == b"json":
        return [
            None if value is None else json.loads(value, parse_float=Decimal) for value in values
        ]
    return values


def native_row(table: pa.Table, index: int) -> Row:
    """One row of a native page as the driver's ``fetch`` reads it (a cursor's values)."""
    row = table.slice(index, 1)
    return tuple(
        native_values(column.combine_chunks(), _kind(field))[0]
        for column, field in zip(row.columns, row.schema, strict=True)
    )


def _kind(field: pa.Field) -> bytes | None:
    return (field.metadata or {}).get(ARROW_TEXT_KIND)


_DECIMAL_DIGITS = r"^-?[0-9]+(\.[0-9]+)?$"


def _native_decimals(text: pa.Array, column: ColumnInfo, zone: tzinfo) -> pa.Array:
    """Exact decimals' digits as decimal128(38, s), s the largest scale, cast in C; what
    that cannot hold (NaN, Infinity, more than 38 digits) takes the rule of page_column."""
    if text.null_count == len(text):
        return pa.nulls(len(text), pa.decimal128(DECIMAL_PRECISION, 0))
    if pc.all(pc.match_substring_regex(text, _DECIMAL_DIGITS)).as_py():
        dot = pc.find_substring(text, ".")
        digits_after = pc.subtract(pc.subtract(pc.utf8_length(text), dot), 1)
        scale = pc.max(pc.if_else(pc.less(dot, 0), 0, digits_after)).as_py() or 0
        if scale <= DECIMAL_PRECISION:
            try:
                return text.cast(pa.decimal128(DECIMAL_PRECISION, scale))
            except _ARROW_ERRORS:
                pass  # more than 38 digits at this scale
    return page_column(native_values(text, b"decimal"), column, zone, exact_numbers=True)


def _native_timestamps(local: pa.Array, column: ColumnInfo, zone: tzinfo) -> pa.Array:
    """Naive timestamps read in ``zone``, as _timestamps reads the same naive datetimes."""
    if _is_utc(zone):
        return local.cast(_TIMESTAMP)
    key = getattr(zone, "key", None)
    if isinstance(key, str):
        try:
            return pc.assume_timezone(
                local, timezone=key, ambiguous="earliest", nonexistent="raise"
            ).cast(_TIMESTAMP)
        except _ARROW_ERRORS:
            pass
    return _timestamps(local.to_pylist(), column, zone)


# APISmith data type -> the native Arrow type a column of it keeps as it is
_NATIVE_AS_IS: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "binary": pa.binary(),
    "string": pa.string(),
    "timestamp": _TIMESTAMP,
}


def native_page_column(
    array: pa.Array, field: pa.Field, column: ColumnInfo, zone: tzinfo
) -> pa.Array:
    """The page column of a native column: what ``page_column`` builds from the same
    values read by ``fetch``, vectorised where the types allow."""
    kind = _kind(field)
    if kind is None and _NATIVE_AS_IS.get(column.data_type) == array.type:
        return array
    if column.data_type == "timestamp" and array.type == pa.timestamp("us"):
        return _native_timestamps(array, column, zone)
    if column.data_type == "number" and kind == b"decimal":
        return _native_decimals(array, column, zone)
    if column.data_type == "number" and kind is None and array.type == pa.float64():
        if array.null_count == len(array):  # no value says float: as page_column
            return pa.nulls(len(array), pa.decimal128(DECIMAL_PRECISION, 0))
        return array
    return page_column(native_values(array, kind), column, zone, exact_numbers=True)


def native_page_body(
    table: pa.Table,
    columns: Sequence[ColumnInfo],
    zone: tzinfo,
    *,
    columns_metadata: Sequence[dict[str, Any]],
) -> bytes:
    """:func:`page_body` of a native page (``Driver.fetch_arrow``): the same schema and
    values as page_body of the rows ``fetch`` reads."""
    arrays = [
        native_page_column(chunked.combine_chunks(), field, column, zone)
        for chunked, field, column in zip(table.columns, table.schema, columns, strict=True)
    ]
    return _ipc_page(arrays, columns, columns_metadata, has_rows=table.num_rows > 0)


def _ipc_page(
    arrays: Sequence[pa.Array],
    columns: Sequence[ColumnInfo],
    columns_metadata: Sequence[dict[str, Any]],
    *,
    has_rows: bool,
) -> bytes:
    schema = pa.schema(
        [pa.field(column.name, array.type) for column, array in zip(columns, arrays, strict=True)],
        metadata=_metadata(columns_metadata),
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        if has_rows:
            writer.write_batch(pa.record_batch(arrays, schema=schema))
    return bytes(sink.getvalue())


class ArrowEncoder(RowEncoder):
    """An Arrow IPC stream: the schema, one record batch per chunk, the end-of-stream marker.
    The schema is fixed before the first row, so numbers are utf8 text."""

    media_type = StreamFormat.ARROW

    def __init__(self, columns: Sequence[ColumnInfo], zone: tzinfo) -> None:
        super().__init__(columns, zone)
        self.schema = pa.schema(
            [pa.field(column.name, stream_type(column)) for column in columns],
            metadata=_metadata([_column_metadata(column) for column in columns]),
        )
        self._sink = io.BytesIO()
        self._writer = pa.ipc.new_stream(self._sink, self.schema)

    def _drain(self) -> bytes:
        data = self._sink.getvalue()
        self._sink.seek(0)
        self._sink.truncate()
        return data

    def start(self) -> bytes:
        return self._drain()

    def encode(self, rows: Sequence[Row]) -> bytes:
        arrays = [
            page_column(values, column, self.zone, exact_numbers=False)
            for values, column in zip(_columns(rows, len(self.columns)), self.columns, strict=True)
        ]
        self._writer.write_batch(pa.record_batch(arrays, schema=self.schema))
        return self._drain()

    def finish(self) -> bytes:
        self._writer.close()
        return self._drain()


def _column_metadata(column: ColumnInfo) -> dict[str, Any]:
    """A column as the JSON metadata lists it (``ColumnOut``)."""
    return {"name": column.name, "data_type": column.data_type, "nullable": column.nullable}
