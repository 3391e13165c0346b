"""An ``execute`` page's parts: its size, its rows as the driver's native Arrow (with the
NULL tail after a cursor), and its response (JSON ``{data, metadata}``, or Arrow with
the paging metadata in headers).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from apismith.drivers.base import BoundQuery
from apismith.runtime.arrow import native_page_body, page_body
from apismith.runtime.call import RuntimeCall, check_shape, check_width
from apismith.runtime.encoding import PageFormat, Row, encode_json, json_rows
from apismith.settings import Settings
from apismith.sql import build_null_tail_query, null_tail_follows
from bridge_core.errors import BadRequest

# an Arrow page's metadata, in response headers (the columns are in the Arrow schema)
NEXT_CURSOR_HEADER = "APISmith-Next-Cursor"
TOTAL_ROWS_HEADER = "APISmith-Total-Rows"
ROW_COUNT_HEADER = "APISmith-Row-Count"
PAGE_SIZE_HEADER = "APISmith-Page-Size"
EXECUTION_TIME_HEADER = "APISmith-Execution-Time-Ms"


@dataclass(frozen=True)
class PageResponse:
    """An executed page: its media type, body and headers (Arrow's paging metadata)."""

    media_type: str
    content: bytes
    headers: dict[str, str]


def page_size_of(requested: int | None, settings: Settings, *, max_rows: int) -> int:
    """The page size to use (400 outside 1..max_page_size or at the connection's max_rows)."""
    # a page reads one row more than it returns, and no query may read more than max_rows
    if requested is None:
        return max(1, min(settings.default_page_size, max_rows - 1))
    if not 1 <= requested <= settings.max_page_size:
        raise BadRequest(f"page_size must be between 1 and {settings.max_page_size}")
    if requested >= max_rows:
        raise BadRequest(
            f"page_size must be below this connection's max_rows ({max_rows}): "
            "ask for smaller pages"
        )
    return requested


def page_response(
    media: PageFormat,
    *,
    call: RuntimeCall,
    rows: Sequence[Row],
    native: pa.Table | None = None,
    page_size: int,
    next_cursor: str | None,
    total_rows: int | None,
    execution_time_ms: float,
) -> PageResponse:
    """A page in ``media``: JSON ``{data, metadata}``, or Arrow with the metadata in
    headers and the columns in the schema."""
    columns_metadata = [column.model_dump() for column in call.api.columns]
    if media is PageFormat.ARROW:
        row_count = native.num_rows if native is not None else len(rows)
        headers = {
            ROW_COUNT_HEADER: str(row_count),
            PAGE_SIZE_HEADER: str(page_size),
            EXECUTION_TIME_HEADER: str(execution_time_ms),
        }
        if next_cursor is not None:
            headers[NEXT_CURSOR_HEADER] = next_cursor
        if total_rows is not None:
            headers[TOTAL_ROWS_HEADER] = str(total_rows)
        if native is not None:
            content = native_page_body(
                native, call.columns, call.zone, columns_metadata=columns_metadata
            )
        else:
            content = page_body(rows, call.columns, call.zone, columns_metadata=columns_metadata)
        return PageResponse(media_type=media, content=content, headers=headers)
    document = {
        "data": json_rows(rows, call.columns, call.zone),
        "metadata": {
            "columns": columns_metadata,
            "row_count": len(rows),
            "page_size": page_size,
            "next_cursor": next_cursor,
            "total_rows": total_rows,
            "execution_time_ms": execution_time_ms,
        },
    }
    return PageResponse(media_type=media, content=encode_json(document, zone=call.zone), headers={})


def null_tail_query(call: RuntimeCall, *, limit: int) -> BoundQuery:
    """The rows after a cursor whose first sort key is NULL (see build_null_tail_query)."""
    return build_null_tail_query(
        call.query,
        columns=call.columns,
        params=call.params,
        filters=call.filters,
        order=call.order,
        limit=limit,
    )


async def native_page(
    call: RuntimeCall, page_query: BoundQuery, *, after: Sequence[Any] | None, page_size: int
) -> pa.Table | None:
    """The page's rows (and its NULL tail) as the driver's native Arrow; None when the
    driver has none for this query, and the page then goes the rows' way."""
    native = await call.driver.fetch_arrow(page_query)
    if native is None:
        return None
    if _tail_follows(call, after, native.num_rows, page_size):
        tail = await call.driver.fetch_arrow(
            null_tail_query(call, limit=page_size + 1 - native.num_rows)
        )
        if tail is None or tail.schema != native.schema:
            return None
        native = pa.concat_tables([native, tail])
    if native.num_rows:
        check_width(native.num_columns, call.columns)
    return native


async def rows_page(
    call: RuntimeCall, page_query: BoundQuery, *, after: Sequence[Any] | None, page_size: int
) -> list[Row]:
    """The page's rows (and its NULL tail) as the driver's ``fetch`` reads them."""
    rows = await call.driver.fetch(page_query)
    if _tail_follows(call, after, len(rows), page_size):
        rows += await call.driver.fetch(null_tail_query(call, limit=page_size + 1 - len(rows)))
    check_shape(rows, call.columns)
    return rows


def _tail_follows(
    call: RuntimeCall, after: Sequence[Any] | None, read: int, page_size: int
) -> bool:
    """Whether a page that read ``read`` rows after ``after`` goes on into the NULL tail."""
    return after is not None and read <= page_size and null_tail_follows(call.order, after)
