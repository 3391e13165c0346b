"""The runtime queries built around a validated saved query, rendered for its dialect.

Each wraps the saved query as ``SELECT * FROM (<saved>) q`` and adds only what the
caller asked for: filters, the total order, the keyset condition and the row
limit. Saved-query parameters, filter values and cursor values are all bound.
"""

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from apismith.drivers.base import BoundQuery, ColumnInfo
from apismith.sql.filters import filter_condition
from apismith.sql.keyset import (
    after_condition,
    first_key_bound,
    keyset_values,
    null_tail_condition,
)
from apismith.sql.order import TotalOrder
from apismith.sql.render import Bindings, RenderedSql, render, render_sql
from apismith.sql.source import select_from_source
from apismith.sql.spec import Filter
from apismith.sql.validate import ValidatedQuery
from bridge_core.errors import BadRequest


def build_describe_query(query: ValidatedQuery, *, params: Mapping[str, Any]) -> BoundQuery:
    """The saved query returning no rows (``WHERE 1 = 0``), to discover its output columns.

    Parameters missing from ``params`` are bound as NULL.
    """
    select = select_from_source(query.expression).where(
        exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0))
    )
    values = {name: params.get(name) for name in query.parameters}
    return render(select, query.dialect, values)


def build_sample_query(
    query: ValidatedQuery, *, params: Mapping[str, Any], rows: int = 100
) -> BoundQuery:
    """Up to ``rows`` rows of the saved query in no particular order, for drivers that infer
    column types from values (SQLite). Parameters missing from ``params`` are bound as NULL.
    """
    select = select_from_source(query.expression).limit(rows)
    values = {name: params.get(name) for name in query.parameters}
    return render(select, query.dialect, values)


def build_count_query(
    query: ValidatedQuery,
    *,
    columns: Sequence[ColumnInfo],
    params: Mapping[str, Any],
    filters: Sequence[Filter],
) -> BoundQuery:
    """``SELECT COUNT(*) AS total`` over the filtered rows (for include_total)."""
    bindings = Bindings(params)
    select = _filtered(query, columns, filters, bindings)
    select.set("expressions", [exp.alias_(exp.Count(this=exp.Star()), "total")])
    return render(select, query.dialect, bindings.values)


def build_stream_query(
    query: ValidatedQuery,
    *,
    columns: Sequence[ColumnInfo],
    params: Mapping[str, Any],
    filters: Sequence[Filter],
    order: TotalOrder,
) -> BoundQuery:
    """Every filtered row in ``order``, no limit (the driver streams it in chunks)."""
    bindings = Bindings(params)
    select = _filtered(query, columns, filters, bindings).order_by(*order.order_by())
    return render(select, query.dialect, bindings.values)


def build_page_query(
    query: ValidatedQuery,
    *,
    columns: Sequence[ColumnInfo],
    params: Mapping[str, Any],
    filters: Sequence[Filter],
    order: TotalOrder,
    page_size: int,
    after: Sequence[Any] | None = None,
) -> BoundQuery:
    """One page: up to ``page_size + 1`` filtered rows after the ``after`` row (a decoded cursor).

    The extra row only tells the caller that a next page exists; it is not returned.
    When ``null_tail_follows(order, after)``, rows whose first sort key is NULL are left
    out (so an index on that key bounds the scan): a page that comes back short goes on
    with :func:`build_null_tail_query`.
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise BadRequest("page_size must be a positive integer")
    bindings = Bindings(params)
    # the filter conditions are built (and their values checked and bound) on every call;
    # the page's SQL text around them depends only on their shape, so it is rendered once,
    # and a rendered page binds its cursor values without building the keyset condition
    condition = filter_condition(filters, {column.name: column for column in columns}, bindings)
    shape = _PageShape(
        sql=query.expression,
        dialect=query.dialect,
        params=tuple(sorted(params)),
        filters=tuple(
            (str(item.field), str(item.operator), _value_shape(item.value)) for item in filters
        ),
        order=order,
        page_size=page_size,
        after=None if after is None else tuple(value is None for value in after),
    )
    rendered = _page_sql.get(shape)
    if rendered is not None:
        for value in () if after is None else keyset_values(after):
            bindings.add(value)
        return rendered.bind(bindings.values)
    keyset: list[exp.Expr] = []
    if after is not None:
        keyset.append(after_condition(order, after, bindings))
        bound = first_key_bound(order, after, bindings)
        if bound is not None:
            keyset.append(bound)
    select = select_from_source(query.expression)
    for part in [condition, *keyset]:
        if part is not None:
            select = select.where(part, copy=False)
    # the limit is an int we computed, not caller text: a literal keeps T-SQL's TOP simple
    select = select.order_by(*order.order_by(), copy=False).limit(page_size + 1, copy=False)
    rendered = render_sql(select, query.dialect, bindings.values)
    _page_sql.put(shape, rendered)
    return rendered.bind(bindings.values)


@dataclass(frozen=True)
class _PageShape:
    """What a page query's SQL text depends on: everything but the values.

    Filter values count by shape only (NULL, one value, or a list of N), which is all
    that changes the tree: the operator and field fix the rest. The saved query is
    keyed by its syntax tree object, which ``validate_select``'s callers keep per text.
    """

    sql: exp.Query
    dialect: str
    params: tuple[str, ...]
    filters: tuple[tuple[str, str, object], ...]
    order: TotalOrder
    page_size: int
    after: tuple[bool, ...] | None

    def __hash__(self) -> int:
        return hash(
            (
                id(self.sql),
                self.dialect,
                self.params,
                self.filters,
                self.order,
                self.page_size,
                self.after,
            )
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _PageShape)
            and self.sql is other.sql
            and (self.dialect, self.params, self.filters, self.order, self.page_size, self.after)
            == (
                other.dialect,
                other.params,
                other.filters,
                other.order,
                other.page_size,
                other.after,
            )
        )


def _value_shape(value: Any) -> object:
    if isinstance(value, list | tuple):
        return len(value)
    return value is None


class _RenderedCache:
    """The SQL of the most recently used page shapes (bounded; oldest evicted first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[_PageShape, RenderedSql] = OrderedDict()

    def get(self, shape: _PageShape) -> RenderedSql | None:
        rendered = self._items.get(shape)
        if rendered is not None:
            self._items.move_to_end(shape)
        return rendered

    def put(self, shape: _PageShape, rendered: RenderedSql) -> None:
        self._items[shape] = rendered
        if len(self._items) > self.size:
            self._items.popitem(last=False)


_page_sql = _RenderedCache(size=1024)


def build_null_tail_query(
    query: ValidatedQuery,
    *,
    columns: Sequence[ColumnInfo],
    params: Mapping[str, Any],
    filters: Sequence[Filter],
    order: TotalOrder,
    limit: int,
) -> BoundQuery:
    """The first ``limit`` filtered rows whose first sort key is NULL, in ``order``: what
    follows the last page :func:`build_page_query` reads when ``null_tail_follows``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise BadRequest("page_size must be a positive integer")
    bindings = Bindings(params)
    select = _filtered(query, columns, filters, bindings).where(null_tail_condition(order))
    select = select.order_by(*order.order_by()).limit(limit)
    return render(select, query.dialect, bindings.values)


def _filtered(
    query: ValidatedQuery,
    columns: Sequence[ColumnInfo],
    filters: Sequence[Filter],
    bindings: Bindings,
) -> exp.Select:
    select = select_from_source(query.expression)
    condition = filter_condition(filters, {column.name: column for column in columns}, bindings)
    return select if condition is None else select.where(condition)
