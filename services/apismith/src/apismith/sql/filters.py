"""Filters to a WHERE condition on the saved query's output columns, values bound.

``ne`` and ``not_in`` also match NULL: filters combine with AND only, so a caller
could otherwise never ask for "everything but X"; add ``not_null`` to leave NULLs out.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from apismith.drivers.base import ColumnInfo
from apismith.sql.render import Bindings
from apismith.sql.source import source_column
from apismith.sql.spec import OPERATORS, Filter, shown
from apismith.sql.values import VALUE_TYPES, coerce_value
from bridge_core.errors import BadRequest

MAX_LIST_VALUES = 1000  # Oracle refuses longer IN lists
ORDERED_TYPES = ("string", "integer", "number", "date", "timestamp", "time")

_COMPARISONS: dict[str, Callable[..., exp.Expr]] = {
    "eq": exp.EQ,
    "gt": exp.GT,
    "gte": exp.GTE,
    "lt": exp.LT,
    "lte": exp.LTE,
}


def filter_condition(
    filters: Sequence[Filter], columns: Mapping[str, ColumnInfo], bindings: Bindings
) -> exp.Expr | None:
    """All ``filters`` ANDed (None when there are none); 400 naming the first bad one."""
    conditions = [_condition(item, columns, bindings) for item in filters]
    return exp.and_(*conditions, copy=False) if conditions else None


def _condition(item: Filter, columns: Mapping[str, ColumnInfo], bindings: Bindings) -> exp.Expr:
    column = columns.get(item.field)
    if column is None:
        raise BadRequest(f"unknown filter field {shown(str(item.field))}")
    if item.operator not in OPERATORS:
        raise BadRequest(
            f"unknown filter operator {shown(str(item.operator))} "
            f"(use one of: {', '.join(OPERATORS)})"
        )
    label = f"filter {shown(column.name)} {item.operator}"
    ref = source_column(column.name)
    if item.operator in ("is_null", "not_null"):
        if item.value is not None:
            raise BadRequest(f"{label}: takes no value")
        condition = exp.Is(this=ref, expression=exp.Null())
        return condition if item.operator == "is_null" else exp.Not(this=condition)
    if column.data_type not in VALUE_TYPES:
        raise BadRequest(
            f"{label}: {column.data_type} columns can only be filtered with is_null or not_null"
        )
    if item.operator == "like":
        if column.data_type != "string":
            raise BadRequest(f"{label}: like works on string columns only")
        return exp.Like(this=ref, expression=_bind_one(item, column, label, bindings))
    if (
        item.operator in ("gt", "gte", "lt", "lte", "between")
        and column.data_type not in ORDERED_TYPES
    ):
        raise BadRequest(f"{label}: {column.data_type} columns have no order")
    if item.operator in ("in", "not_in"):
        return _membership(item, column, label, bindings)
    if item.operator == "between":
        low, high = _bind_many(item, column, label, bindings, exactly=2)
        return exp.Between(this=ref, low=low, high=high)
    value = _bind_one(item, column, label, bindings)
    if item.operator == "ne":
        return exp.or_(
            exp.NEQ(this=ref, expression=value),
            exp.Is(this=source_column(column.name), expression=exp.Null()),
            copy=False,
        )
    return _COMPARISONS[item.operator](this=ref, expression=value)


def _membership(item: Filter, column: ColumnInfo, label: str, bindings: Bindings) -> exp.Expr:
    ref = source_column(column.name)
    condition = exp.In(this=ref, expressions=_bind_many(item, column, label, bindings))
    if item.operator == "in":
        return condition
    return exp.or_(
        exp.Not(this=condition),
        exp.Is(this=source_column(column.name), expression=exp.Null()),
        copy=False,
    )


def _bind_one(item: Filter, column: ColumnInfo, label: str, bindings: Bindings) -> exp.Placeholder:
    if item.value is None:
        raise BadRequest(f"{label}: needs a value (use is_null to match NULL)")
    if isinstance(item.value, list | dict):
        raise BadRequest(f"{label}: needs a single value, not a list or object")
    return bindings.bind(_coerce(item.value, column))


def _bind_many(
    item: Filter, column: ColumnInfo, label: str, bindings: Bindings, *, exactly: int | None = None
) -> list[exp.Expr]:
    values = item.value
    if exactly is not None:
        if not isinstance(values, list) or len(values) != exactly:
            raise BadRequest(f"{label}: needs a two-item list [low, high]")
    elif not isinstance(values, list) or not 1 <= len(values) <= MAX_LIST_VALUES:
        raise BadRequest(f"{label}: needs a list of 1 to {MAX_LIST_VALUES} values")
    if any(value is None or isinstance(value, list | dict) for value in values):
        raise BadRequest(f"{label}: list items must be single non-null values")
    return [bindings.bind(_coerce(value, column)) for value in values]


def _coerce(value: Any, column: ColumnInfo) -> Any:
    return coerce_value(value, column.data_type, name=f"filter {shown(column.name)}")
