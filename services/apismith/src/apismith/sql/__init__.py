"""APISmith's SQL layer (pure, no I/O): governance, rewriting, rendering and cursors.

At save time (the APIs feature): ``validate_select`` (422 unless one read-only
SELECT), ``check_declared_params`` (422 unless the declarations match the SQL's
``:name`` parameters), ``build_describe_query`` / ``build_sample_query`` for column
discovery, then ``check_output_columns`` (422 for unnamed, duplicate or missing
key columns).

Per call (the runtime): ``bind_params`` and ``resolve_order`` (400 on bad input),
``decode_cursor`` with ``cursor_fingerprint``, ``build_page_query`` /
``build_count_query`` / ``build_stream_query`` (and ``build_null_tail_query`` after
a short page when ``null_tail_follows``), then ``TotalOrder.row_values`` of
the last row kept and ``encode_cursor`` for the next page.
"""

from apismith.sql.cursor import cursor_fingerprint, decode_cursor, encode_cursor
from apismith.sql.keyset import null_tail_follows
from apismith.sql.order import TotalOrder, resolve_order
from apismith.sql.params import PARAM_TYPES, ParamSpec, bind_params, check_declared_params
from apismith.sql.render import render
from apismith.sql.rewrite import (
    build_count_query,
    build_describe_query,
    build_null_tail_query,
    build_page_query,
    build_sample_query,
    build_stream_query,
)
from apismith.sql.spec import DIRECTIONS, OPERATORS, Filter, SortKey
from apismith.sql.validate import ValidatedQuery, check_output_columns, validate_select
from apismith.sql.values import coerce_value

__all__ = [
    "DIRECTIONS",
    "OPERATORS",
    "PARAM_TYPES",
    "Filter",
    "ParamSpec",
    "SortKey",
    "TotalOrder",
    "ValidatedQuery",
    "bind_params",
    "build_count_query",
    "build_describe_query",
    "build_null_tail_query",
    "build_page_query",
    "build_sample_query",
    "build_stream_query",
    "check_declared_params",
    "check_output_columns",
    "coerce_value",
    "cursor_fingerprint",
    "decode_cursor",
    "encode_cursor",
    "null_tail_follows",
    "render",
    "resolve_order",
    "validate_select",
]
