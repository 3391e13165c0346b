"""APISmith's SQL layer (pure, no I/O): governance, rewriting, rendering and cursors.

validate_select(sql, dialect)                 -> ValidatedQuery   (422 when not a read-only SELECT)
check_declared_params(declared=, used=)       (422 unless declarations match the SQL)
check_output_columns(columns, business_keys=, rowversion_column=)   (422)
bind_params(declared=, supplied=)             -> {name: typed value}   (400)
resolve_order(sort=, columns=, business_keys=, rowversion_column=) -> TotalOrder  (400)
build_describe_query / build_count_query / build_stream_query / build_page_query -> BoundQuery
encode_cursor / decode_cursor / cursor_fingerprint
coerce_value(value, data_type, name=)         (400)
render(expression, dialect, values)           -> BoundQuery
"""

from apismith.sql.cursor import cursor_fingerprint, decode_cursor, encode_cursor
from apismith.sql.order import TotalOrder, resolve_order
from apismith.sql.params import PARAM_TYPES, ParamSpec, bind_params, check_declared_params
from apismith.sql.render import render
from apismith.sql.rewrite import (
    build_count_query,
    build_describe_query,
    build_page_query,
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
    "build_page_query",
    "build_stream_query",
    "check_declared_params",
    "check_output_columns",
    "coerce_value",
    "cursor_fingerprint",
    "decode_cursor",
    "encode_cursor",
    "render",
    "resolve_order",
    "validate_select",
]
