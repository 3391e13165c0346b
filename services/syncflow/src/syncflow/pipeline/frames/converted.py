"""A row stage's own per-value function run over a column of the lane.

Two things the lane cannot do with polars expressions alone it does this way, with the
very functions the row-wise stages use, one Python call a value:

- normalize an ERP text column its entity reads as another type (numbers, dates,
  timestamps and booleans kept as text): the normalize converter (``Normalizer.plan``);
- map a field that is not a plain copy (a text transform, a value map, a default, a
  conversion to another type): the map's function (``Mapper.plan``).

The results become a column of the field's type again. A value the function rejects,
or a result the column cannot hold exactly (an integer beyond bigint, a decimal whose
scale differs from the column's first, which the column would write with other
trailing zeros), sends its row to the row-wise stages, which decide it and word its
failure; so both lanes give the same records (``tests/pipeline/test_frame_lane.py``).
Timestamps become a column in UTC: the row-wise stages keep each value's offset, the
column the instant only, and every use of a mapped timestamp reads the instant (the
target's ``timestamptz``, identity's canonical form in UTC, the outbox's JSON in UTC);
a rowversion's text would show the offset, so the lane does not take a page whose
rowversion is read from text as a timestamp (``FrameLane.takes``). A naive result
leaves the lane here; an instant outside years 1..9999 in UTC by the lane's check of
every date and timestamp column (``frames.identity.outside_python``).
"""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl

from syncflow.domain import BIGINT_MAX, BIGINT_MIN, FieldType

# the column the values become (the stages give each value its field's type)
_DTYPES: dict[FieldType, pl.DataType | type[pl.DataType]] = {
    FieldType.TEXT: pl.String,
    FieldType.INTEGER: pl.Int64,
    FieldType.BOOLEAN: pl.Boolean,
    FieldType.DATE: pl.Date,
    FieldType.NUMERIC: pl.Decimal,
    FieldType.TIMESTAMP: pl.Datetime("us", "UTC"),
}
_DECIMAL_DIGITS = 38
_ERRORS = (ValueError, TypeError, ArithmeticError)


def converted(
    column: pl.Series, run: Callable[[Any], Any], field_type: FieldType
) -> tuple[pl.Series, list[int]]:
    """``run`` over the column's values: the results as a column of ``field_type`` (a
    NULL where a row left), and the indexes of the rows that must leave the lane."""
    dtype = _DTYPES[field_type]
    results: list[Any] = []
    leave: list[int] = []
    for index, value in enumerate(column.to_list()):
        try:
            result = run(value)
        except _ERRORS:
            result = None
            leave.append(index)
        else:
            if result is not None and not _held_exactly(result):
                result = None
                leave.append(index)
        results.append(result)
    if field_type is FieldType.NUMERIC:
        dtype = pl.Decimal(_DECIMAL_DIGITS, _uniform_scale(results, leave))
    return pl.Series(column.name, results, dtype=dtype), leave


def _held_exactly(value: Any) -> bool:
    """Whether a column holds the value exactly."""
    if value.__class__ is int:
        return bool(BIGINT_MIN <= value <= BIGINT_MAX)
    if value.__class__ is Decimal:
        _, digits, exponent = value.as_tuple()
        return isinstance(exponent, int) and exponent <= 0 and len(digits) <= _DECIMAL_DIGITS
    if value.__class__ is datetime:
        return value.utcoffset() is not None
    return True


def _uniform_scale(results: list[Any], leave: list[int]) -> int:
    """The scale of the first decimal; a decimal of another scale (which the column would
    write with other trailing zeros than the row-wise load) leaves, as a NULL."""
    scale: int | None = None
    for index, value in enumerate(results):
        if value is None:
            continue
        exponent = -int(value.as_tuple().exponent)
        if scale is None:
            scale = exponent
        elif exponent != scale:
            results[index] = None
            leave.append(index)
    return scale or 0
