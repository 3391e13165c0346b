"""Arrow rows in the form APISmith's JSON gives them, for the rows that leave the columns.

A row the column lane cannot finish, and every row of a page it cannot take at all,
goes through the row-wise stages exactly as a JSON page's row does: this module turns
those rows of an Arrow page into the dicts the JSON body would have held (exact
decimals and timestamps as text, dates ISO 8601, binary as base64), so the row-wise
stages, the failed records and the parked children see the same values either way.
"""

import base64
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

Convert = Callable[[Any], Any]


def _iso(value: date | datetime | time) -> str:
    return value.isoformat()


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _converter(kind: pa.DataType) -> Convert | None:
    """How a value of an Arrow type becomes its JSON form (``None``: it already is)."""
    if pa.types.is_decimal(kind):
        return str  # every digit, as APISmith's JSON writes a Decimal
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_time(kind):
        return _iso
    binary = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary)
    if any(is_kind(kind) for is_kind in (*binary, pa.types.is_binary_view)):
        return _base64
    return None


def json_column(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """A column's values in their JSON form (NULL stays ``None``). A date or timestamp
    Python cannot hold (beyond years 1..9999) becomes Arrow's ISO 8601 text of it, which
    the normalize layer then refuses with its reason."""
    convert = _converter(column.type)
    try:
        values: list[Any] = column.to_pylist()
    except (OverflowError, ValueError):
        return [_iso_of(scalar) for scalar in column]
    if convert is None:
        return values
    return [None if value is None else convert(value) for value in values]


def _iso_of(scalar: pa.Scalar) -> str | None:
    """One date or timestamp in its JSON form, also beyond Python's years."""
    if not scalar.is_valid:
        return None
    try:
        return _iso(scalar.as_py())
    except (OverflowError, ValueError):
        kind, value = scalar.type, pa.array([scalar])
        if not pa.types.is_timestamp(kind):
            return str(pc.strftime(value, format="%Y-%m-%d")[0].as_py())
        if kind.tz:  # strftime writes a zone's wall time: the instant is written in UTC
            value = value.cast(pa.timestamp(kind.unit, "UTC"))
        text = str(pc.strftime(value, format="%Y-%m-%dT%H:%M:%S")[0].as_py())
        return f"{text}+00:00" if kind.tz else text


def json_rows(table: pa.Table, positions: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """The rows of ``table`` (those at ``positions``, in that order) as JSON would hold them."""
    if positions is not None:
        table = table.take(pa.array(positions, type=pa.int64()))
    names = table.column_names
    columns = [json_column(column) for column in table.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def last_json_value(table: pa.Table, name: str) -> Any:
    """The last non-NULL value of a column in its JSON form (``None`` if all are NULL or
    the column is missing)."""
    if name not in table.column_names:
        return None
    column = table.column(name).drop_null()
    if not len(column):
        return None
    scalar = column[len(column) - 1]
    convert = _converter(column.type)
    if convert is _iso:
        return _iso_of(scalar)
    value = scalar.as_py()
    return value if convert is None else convert(value)
