"""The runtime queries built around a validated saved query, rendered for its dialect.

Each wraps the saved query as ``SELECT * FROM (<saved>) q`` and adds only what the
caller asked for: filters, the total order, the keyset condition and the row
limit. Saved-query parameters, filter values and cursor values are all bound.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlglot import exp

from apismith.drivers.base import BoundQuery, ColumnInfo
from apismith.sql.filters import filter_condition
from apismith.sql.keyset import after_condition, first_key_bound, null_tail_condition
from apismith.sql.order import TotalOrder
from apismith.sql.render import Bindings, render
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
    select = _filtered(query, columns, filters, bindings)
    if after is not None:
        select = select.where(after_condition(order, after, bindings))
        bound = first_key_bound(order, after, bindings)
        if bound is not None:
            select = select.where(bound)
    # the limit is an int we computed, not caller text: a literal keeps T-SQL's TOP simple
    select = select.order_by(*order.order_by()).limit(page_size + 1)
    return render(select, query.dialect, bindings.values)


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
