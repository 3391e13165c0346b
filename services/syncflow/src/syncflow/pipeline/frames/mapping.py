"""The map stage's transforms, defaults and conversions over one column of the lane.

A mapped field that is not a plain copy (a text transform, a value map, a default, a
conversion to another type) runs the very function the row-wise map runs
(``Mapper.plan``) over the column's values, one Python call a value, and the results
become a column of the target field's type again. A value that function rejects, or a
result the column cannot hold exactly (an integer beyond bigint, a decimal whose
exponent differs from the column's first), sends its row to the row-wise stages, which
decide it and word its failure; so both lanes give the same records
(``tests/pipeline/test_frame_lane.py``). Timestamps are not mapped here: a column keeps
one zone and the row-wise map keeps each value's offset, so a page with such a field is
decided row by row.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl

from syncflow.domain import FieldType

# the column a mapped field's values become (the map gives each value its field's type)
_DTYPES: dict[FieldType, pl.DataType | type[pl.DataType]] = {
    FieldType.TEXT: pl.String,
    FieldType.INTEGER: pl.Int64,
    FieldType.BOOLEAN: pl.Boolean,
    FieldType.DATE: pl.Date,
    FieldType.NUMERIC: pl.Decimal,
}
_BIGINT = (-(2**63), 2**63 - 1)
_DECIMAL_DIGITS = 38
_ERRORS = (ValueError, TypeError, ArithmeticError)


def maps(field_type: FieldType) -> bool:
    """Whether a mapped field of this type can be mapped over a column."""
    return field_type in _DTYPES


def mapped(
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
            if result is not None and not _holds(result):
                result = None
                leave.append(index)
        results.append(result)
    if field_type is FieldType.NUMERIC:
        dtype = pl.Decimal(_DECIMAL_DIGITS, _uniform_scale(results, leave))
    return pl.Series(column.name, results, dtype=dtype), leave


def _holds(value: Any) -> bool:
    """Whether a column holds the mapped value exactly."""
    if value.__class__ is int:
        return bool(_BIGINT[0] <= value <= _BIGINT[1])
    if value.__class__ is Decimal:
        _, digits, exponent = value.as_tuple()
        return isinstance(exponent, int) and exponent <= 0 and len(digits) <= _DECIMAL_DIGITS
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
