"""Keyset pagination: the condition "comes after this row" under a TotalOrder.

With NULL as the largest value, for sort keys k1..kn and the last row's values
v1..vn the next page is ``after(k1) OR (k1 = v1 AND (after(k2) OR (k2 = v2 AND ...)))``
where, NULL-aware and matching the ORDER BY exactly:

    asc,  v not NULL: k > v OR k IS NULL      asc,  v NULL: nothing comes after
    desc, v not NULL: k < v                   desc, v NULL: k IS NOT NULL
    "k = v" is "k IS NULL" when v is NULL.

The nested form grows linearly with the number of keys.

No database can walk an index along that nest of ORs, so every page would scan the
table from its start. :func:`first_key_bound` adds the equivalent range on the first
sort key alone (``k1 >= v1`` ascending, ``k1 <= v1`` descending), which an index on
``k1`` (the rowversion column, by default) serves directly. Ascending, the NULLs that
come after every value fall outside that range: :func:`null_tail_follows` says when
they must be read with a query of their own (``build_null_tail_query``).
"""

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from apismith.sql.order import TotalOrder
from apismith.sql.render import Bindings
from apismith.sql.source import source_column
from apismith.sql.spec import SortKey
from bridge_core.errors import BadRequest

INVALID_CURSOR = "invalid cursor"


def after_condition(order: TotalOrder, values: Sequence[Any], bindings: Bindings) -> exp.Expr:
    """The rows strictly after the row whose sort-key values are ``values``."""
    if len(values) != len(order.keys):
        raise BadRequest(INVALID_CURSOR)
    condition: exp.Expr | None = None  # None: no row qualifies
    for key, value in reversed(list(zip(order.keys, values, strict=True))):
        bound = None if value is None else bindings.bind(value)
        after = _after(key, bound)
        if condition is None:
            condition = after
            continue
        # every operand is built here and used once: nothing to copy (copying the nest at
        # each key made this quadratic in the number of keys, a sixth of a page's CPU)
        tail = exp.and_(_same(key, bound), condition, copy=False)
        condition = tail if after is None else exp.or_(after, tail, copy=False)
    if condition is None:
        return exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0))
    return condition


def _after(key: SortKey, bound: exp.Placeholder | None) -> exp.Expr | None:
    if key.direction == "desc":
        if bound is None:
            return exp.Not(this=_is_null(key))
        return exp.LT(this=source_column(key.field), expression=bound.copy())
    if bound is None:
        return None
    return exp.or_(
        exp.GT(this=source_column(key.field), expression=bound.copy()), _is_null(key), copy=False
    )


def _same(key: SortKey, bound: exp.Placeholder | None) -> exp.Expr:
    if bound is None:
        return _is_null(key)
    return exp.EQ(this=source_column(key.field), expression=bound.copy())


def _is_null(key: SortKey) -> exp.Expr:
    return exp.Is(this=source_column(key.field), expression=exp.Null())


def first_key_bound(
    order: TotalOrder, values: Sequence[Any], bindings: Bindings
) -> exp.Expr | None:
    """The range of the first sort key that holds every non-NULL row after ``values``
    (``None`` when the first value is NULL: the condition already pins the key then)."""
    key, value = order.keys[0], values[0]
    if value is None:
        return None
    compare = exp.LTE if key.direction == "desc" else exp.GTE
    return compare(this=source_column(key.field), expression=bindings.bind(value))


def keyset_values(values: Sequence[Any]) -> list[Any]:
    """The cursor values in the order :func:`after_condition` and then
    :func:`first_key_bound` bind them: the non-NULL ones last key first, then the first
    key's again when it is not NULL. A page whose SQL is already rendered binds these."""
    bound = [value for value in reversed(values) if value is not None]
    if values[0] is not None:
        bound.append(values[0])
    return bound


def null_tail_follows(order: TotalOrder, values: Sequence[Any]) -> bool:
    """Whether rows whose first sort key is NULL come after ``values`` but outside
    :func:`first_key_bound` (ascending order, non-NULL first value)."""
    return order.keys[0].direction != "desc" and values[0] is not None


def null_tail_condition(order: TotalOrder) -> exp.Expr:
    """The rows whose first sort key is NULL."""
    return _is_null(order.keys[0])
