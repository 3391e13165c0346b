"""A driver's native Arrow page (``Driver.fetch_arrow``) as the page columns
``apismith.runtime.arrow_columns`` builds from the same values read by ``fetch``:
vectorised where the types allow, value by value otherwise.
"""

import json
from datetime import tzinfo
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from apismith.drivers.base import ARROW_TEXT_KIND, ColumnInfo
from apismith.runtime.arrow_columns import (
    ARROW_ERRORS,
    DECIMAL_PRECISION,
    TIMESTAMP,
    local_instants,
    page_column,
    timestamp_column,
)
from apismith.runtime.encoding import Row


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
            except ARROW_ERRORS:
                pass  # more than 38 digits at this scale
    return page_column(native_values(text, b"decimal"), column, zone, exact_numbers=True)


def _native_timestamps(local: pa.Array, column: ColumnInfo, zone: tzinfo) -> pa.Array:
    """Naive timestamps read in ``zone``, as timestamp_column reads the same naive datetimes."""
    instants = local_instants(local, zone)
    if instants is not None:
        return instants
    return timestamp_column(local.to_pylist(), column, zone)


# APISmith data type -> the native Arrow type a column of it keeps as it is
_NATIVE_AS_IS: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "binary": pa.binary(),
    "string": pa.string(),
    "timestamp": TIMESTAMP,
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
