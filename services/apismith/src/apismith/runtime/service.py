"""Runtime calls: one page of a saved API (execute), or every row of it (stream).

Both take the API and its connection from the process's catalog (``apismith.catalog``),
or read them in a short transaction of their own (no metadata connection is held while
the ERP works), wrap the saved query with the
caller's parameters, filters, sort and cursor (``apismith.sql``: every value is a
bound parameter), run it through the connection's driver and audit the call,
failures included, in a transaction of its own (``apismith.executions``).

A stream reads its first chunk before the response starts, so a bad request, an
unreachable ERP or a statement timeout still gets its 4xx/502/504. A later failure
can only break the response off (the client sees an incomplete body, never a short
one that looks whole). Past the connection's ``max_rows`` the driver stops the query:
a 502 when that shows in the first chunk, else the stream is broken off like any other
late failure, so a stream that ends normally always holds every row. Either way the
call is audited as ``truncated``.
"""

import asyncio
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pyarrow as pa

from apismith.apis.schemas import ApiOut
from apismith.apis.service import find_api_by_slug, param_specs
from apismith.auth.principal import Principal
from apismith.catalog import CatalogEntry, RuntimeCatalog
from apismith.connections.service import get_connection_record
from apismith.drivers.base import (
    BoundQuery,
    ColumnInfo,
    Dialect,
    Driver,
    ErpQueryError,
    RowLimitExceeded,
)
from apismith.executions.schemas import ExecutionKind, ExecutionRecord, ExecutionStatus
from apismith.executions.writer import AuditWriter
from apismith.runtime.arrow import ArrowEncoder, native_page_body, page_body
from apismith.runtime.arrow_native import native_row
from apismith.runtime.context import RuntimeContext
from apismith.runtime.encoding import (
    CsvEncoder,
    NdjsonEncoder,
    PageFormat,
    Row,
    RowEncoder,
    StreamFormat,
    encode_json,
    json_rows,
    negotiate,
    negotiate_page,
)
from apismith.runtime.schemas import ExecuteRequest, StreamRequest
from apismith.settings import Settings
from apismith.sql import (
    Filter,
    SortKey,
    TotalOrder,
    ValidatedQuery,
    bind_params,
    build_count_query,
    build_null_tail_query,
    build_page_query,
    build_stream_query,
    cursor_fingerprint,
    decode_cursor,
    encode_cursor,
    null_tail_follows,
    resolve_order,
    validate_select,
)
from bridge_core.db.transaction import Database
from bridge_core.errors import BadRequest, BridgeError, GatewayTimeout, NotFound

API_NOT_FOUND = "api not found or inactive"

# an Arrow page's metadata, in response headers (the columns are in the Arrow schema)
NEXT_CURSOR_HEADER = "APISmith-Next-Cursor"
TOTAL_ROWS_HEADER = "APISmith-Total-Rows"
ROW_COUNT_HEADER = "APISmith-Row-Count"
PAGE_SIZE_HEADER = "APISmith-Page-Size"
EXECUTION_TIME_HEADER = "APISmith-Execution-Time-Ms"

_ENCODERS: dict[StreamFormat, type[RowEncoder]] = {
    StreamFormat.NDJSON: NdjsonEncoder,
    StreamFormat.CSV: CsvEncoder,
    StreamFormat.ARROW: ArrowEncoder,
}


@dataclass(frozen=True)
class RuntimeCall:
    """A saved API ready to run: its query, the caller's inputs checked and typed."""

    api: ApiOut
    driver: Driver
    query: ValidatedQuery
    columns: list[ColumnInfo]
    params: dict[str, Any]
    filters: list[Filter]
    order: TotalOrder
    zone: ZoneInfo


@dataclass(frozen=True)
class PageResponse:
    """An executed page: its media type, body and headers (Arrow's paging metadata)."""

    media_type: str
    content: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class RowStream:
    """A stream's media type and the bytes of its body, produced as the ERP delivers rows."""

    media_type: str
    body: AsyncIterator[bytes]


class _Audit:
    """The audit of one call: who, what, since when; recorded once at the end."""

    def __init__(
        self, *, writer: AuditWriter, principal: Principal, slug: str, kind: ExecutionKind
    ) -> None:
        self.writer = writer
        self.principal = principal
        self.slug = slug
        self.kind = kind
        self.api: ApiOut | None = None
        self.started = time.perf_counter()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def record(self, status: ExecutionStatus, *, rows: int, error: str | None) -> None:
        self.writer.add(
            ExecutionRecord(
                slug=self.slug,
                kind=self.kind,
                principal=self.principal,
                api_uid=self.api.uid if self.api else None,
                api_version=self.api.version if self.api else None,
                status=status,
                row_count=rows,
                duration_ms=round(self.elapsed_ms()),
                error=error,
            )
        )

    def failed(self, error: BaseException, *, rows: int = 0) -> None:
        status, detail = _outcome(error)
        self.record(status, rows=rows, error=detail)


def _outcome(error: BaseException) -> tuple[ExecutionStatus, str]:
    """The audit status and message of a call that ended with ``error``."""
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return "aborted", "the client went away before the last row"
    if isinstance(error, GatewayTimeout):
        return "timeout", error.detail
    if isinstance(error, RowLimitExceeded):
        return "truncated", error.detail
    if isinstance(error, BridgeError):
        return "error", error.detail
    return "error", f"internal error ({type(error).__name__})"


async def _definition(*, database: Database, catalog: RuntimeCatalog, slug: str) -> CatalogEntry:
    """The active API ``slug`` and its connection: from the catalog, else read (404)."""
    entry = catalog.get(slug)
    if entry is not None:
        return entry
    read_at = catalog.generation
    async with database.transaction() as conn:
        api = await find_api_by_slug(conn=conn, slug=slug)
        if api is None or not api.is_active:
            raise NotFound(API_NOT_FOUND)
        connection = await get_connection_record(conn=conn, uid=api.connection_uid)
    entry = CatalogEntry(api=api, connection=connection)
    catalog.put(slug, entry, read_at=read_at)
    return entry


async def _prepare(
    *, runtime: RuntimeContext, slug: str, body: StreamRequest, audit: _Audit
) -> RuntimeCall:
    """The active API ``slug`` with the caller's params and sort checked (404, 400)."""
    definition = await _definition(database=runtime.database, catalog=runtime.catalog, slug=slug)
    api, connection = definition.api, definition.connection
    audit.api = api
    zone = ZoneInfo(connection.options.timezone)
    columns = [
        ColumnInfo(name=column.name, data_type=column.data_type, nullable=column.nullable)
        for column in api.columns
    ]
    types = {column.name: column.data_type for column in columns}
    params = bind_params(declared=param_specs(api.params), supplied=body.params)
    return RuntimeCall(
        api=api,
        driver=runtime.drivers.get(connection),
        query=_validated(api.sql, connection.dialect),
        columns=columns,
        params={
            name: _erp_time(value, zone) if isinstance(value, datetime) else value
            for name, value in params.items()
        },
        filters=[
            Filter(
                field=item.field,
                operator=item.operator,
                value=_erp_time(item.value, zone)
                if types.get(item.field) == "timestamp"
                else item.value,
            )
            for item in body.filters
        ],
        order=resolve_order(
            sort=[SortKey(field=key.field, direction=key.direction) for key in body.sort],
            columns=columns,
            business_keys=api.business_keys,
            rowversion_column=api.rowversion_column,
        ),
        zone=zone,
    )


@functools.lru_cache(maxsize=256)
def _validated(sql: str, dialect: Dialect) -> ValidatedQuery:
    """``validate_select`` once per saved SQL text: every page of a sync asks again, and
    parsing is a third of a page's work. The rewriters copy the tree, never change it."""
    return validate_select(sql, dialect)


def _erp_time(value: Any, zone: ZoneInfo) -> Any:
    """A timestamp with an offset as the ERP's wall-clock time in ``zone`` (lists item by item).

    ERP timestamps are mostly naive, read in the connection's zone, and APISmith sends
    them with that offset; a caller passing one back must match the stored value.
    Anything else is left for the SQL layer to check.
    """
    if isinstance(value, list):
        return [_erp_time(item, zone) for item in value]
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        try:
            return moment.astimezone(zone).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:59:59-14:00 is past year 9999 in UTC
            raise BadRequest(
                f"timestamp {str(value)[:40]!r} falls outside the years 1 to 9999 "
                f"in the connection's time zone {zone.key}"
            ) from None
    return value


def _check_shape(rows: Sequence[Row], columns: Sequence[ColumnInfo]) -> None:
    """502 when the ERP's query no longer returns the columns the API was saved with."""
    if rows:
        _check_width(len(rows[0]), columns)


def _check_width(width: int, columns: Sequence[ColumnInfo]) -> None:
    if width != len(columns):
        raise ErpQueryError(
            f"the query now returns {width} columns but the API was saved with "
            f"{len(columns)}: save the API again to discover its columns"
        )


def _page_size(requested: int | None, settings: Settings, *, max_rows: int) -> int:
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


def _page_response(
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


async def execute(
    *,
    runtime: RuntimeContext,
    principal: Principal,
    slug: str,
    body: ExecuteRequest,
    accept: str | None = None,
) -> PageResponse:
    """One page of ``slug``'s rows: the JSON body ``{data, metadata}``, or an Arrow IPC
    stream with the metadata in headers when ``accept`` asks for it (406 if neither
    fits); audited."""
    media = negotiate_page(accept)
    settings = runtime.settings
    audit = _Audit(writer=runtime.writer, principal=principal, slug=slug, kind="execute")
    try:
        call = await _prepare(runtime=runtime, slug=slug, body=body, audit=audit)
        page_size = _page_size(body.page_size, settings, max_rows=call.driver.options.max_rows)
        secret = settings.secret_key.get_secret_value()
        fingerprint = cursor_fingerprint(
            api_uid=str(call.api.uid),
            api_version=call.api.version,
            params=call.params,
            filters=call.filters,
            order=call.order,
        )
        after = (
            decode_cursor(body.cursor, secret=secret, fingerprint=fingerprint)
            if body.cursor is not None
            else None
        )
        page_query = build_page_query(
            call.query,
            columns=call.columns,
            params=call.params,
            filters=call.filters,
            order=call.order,
            page_size=page_size,
            after=after,
        )
        native = None
        if media is PageFormat.ARROW:
            native = await _native_page(call, page_query, after=after, page_size=page_size)
        next_cursor = None
        rows: list[Row] = []
        if native is not None:
            if native.num_rows:
                _check_width(native.num_columns, call.columns)
            if native.num_rows > page_size:  # the one extra row says a next page exists
                native = native.slice(0, page_size)
                next_cursor = encode_cursor(
                    call.order.row_values(native_row(native, page_size - 1), call.columns),
                    secret=secret,
                    fingerprint=fingerprint,
                )
            row_count = native.num_rows
        else:
            rows = await call.driver.fetch(page_query)
            if (
                after is not None
                and len(rows) <= page_size
                and null_tail_follows(call.order, after)
            ):
                rows += await call.driver.fetch(
                    _null_tail_query(call, limit=page_size + 1 - len(rows))
                )
            _check_shape(rows, call.columns)
            if len(rows) > page_size:  # the one extra row says a next page exists
                rows = rows[:page_size]
                next_cursor = encode_cursor(
                    call.order.row_values(rows[-1], call.columns),
                    secret=secret,
                    fingerprint=fingerprint,
                )
            row_count = len(rows)
        total_rows = None
        if body.include_total:
            count_query = build_count_query(
                call.query, columns=call.columns, params=call.params, filters=call.filters
            )
            [(count,)] = await call.driver.fetch(count_query)
            total_rows = int(count)
        response = _page_response(
            media,
            call=call,
            rows=rows,
            native=native,
            page_size=page_size,
            next_cursor=next_cursor,
            total_rows=total_rows,
            execution_time_ms=round(audit.elapsed_ms(), 2),
        )
    except BaseException as error:
        audit.failed(error)
        raise
    audit.record("ok", rows=row_count, error=None)
    return response


def _null_tail_query(call: RuntimeCall, *, limit: int) -> BoundQuery:
    """The rows after a cursor whose first sort key is NULL (see build_null_tail_query)."""
    return build_null_tail_query(
        call.query,
        columns=call.columns,
        params=call.params,
        filters=call.filters,
        order=call.order,
        limit=limit,
    )


async def _native_page(
    call: RuntimeCall, page_query: BoundQuery, *, after: Sequence[Any] | None, page_size: int
) -> pa.Table | None:
    """The page's rows (and its NULL tail) as the driver's native Arrow; None when the
    driver has none for this query, and the page then goes the rows' way."""
    native = await call.driver.fetch_arrow(page_query)
    if native is None:
        return None
    if after is not None and native.num_rows <= page_size and null_tail_follows(call.order, after):
        tail = await call.driver.fetch_arrow(
            _null_tail_query(call, limit=page_size + 1 - native.num_rows)
        )
        if tail is None or tail.schema != native.schema:
            return None
        native = pa.concat_tables([native, tail])
    return native


async def open_stream(
    *,
    runtime: RuntimeContext,
    principal: Principal,
    slug: str,
    body: StreamRequest,
    accept: str | None,
) -> RowStream:
    """Every row of ``slug`` in the format ``accept`` asks for (406 if none fits); audited
    when the stream ends."""
    media = negotiate(accept)
    settings = runtime.settings
    audit = _Audit(writer=runtime.writer, principal=principal, slug=slug, kind="stream")
    try:
        call = await _prepare(runtime=runtime, slug=slug, body=body, audit=audit)
        stream_query = build_stream_query(
            call.query,
            columns=call.columns,
            params=call.params,
            filters=call.filters,
            order=call.order,
        )
        # one row past max_rows: a result that is too big at once is refused before
        # the response starts, with a status code instead of a broken-off body
        chunk_rows = min(settings.stream_chunk_rows, call.driver.options.max_rows + 1)
        chunks = call.driver.stream(stream_query, chunk_rows=chunk_rows)
        # an error in the first chunk ends the driver's generator; nothing is left open
        first = await anext(chunks, None)
        _check_shape(first or [], call.columns)
        encoder = _ENCODERS[media](call.columns, call.zone)
    except BaseException as error:
        audit.failed(error)
        raise
    return RowStream(
        media_type=media,
        body=_stream_body(chunks=chunks, first=first, encoder=encoder, audit=audit),
    )


async def _stream_body(
    *,
    chunks: AsyncIterator[list[Row]],
    first: list[Row] | None,
    encoder: RowEncoder,
    audit: _Audit,
) -> AsyncIterator[bytes]:
    """The encoded rows, one chunk at a time; the audit is written when the stream ends."""
    sent = 0
    status: ExecutionStatus = "ok"
    error: str | None = None
    try:
        yield encoder.start()
        chunk = first
        while chunk:
            _check_shape(chunk, encoder.columns)
            yield encoder.encode(chunk)
            sent += len(chunk)
            chunk = await anext(chunks, None)
    except RowLimitExceeded as exc:
        # never end normally: a client must not take the rows so far for all of them
        status, error = "truncated", f"stopped after {sent} rows: {exc.detail}"
        raise
    except BaseException as exc:
        status, error = _outcome(exc)
        raise
    finally:
        if isinstance(chunks, AsyncGenerator):  # release the ERP connection now, not at GC
            with anyio.CancelScope(shield=True):
                await chunks.aclose()
        audit.record(status, rows=sent, error=error)
    yield encoder.finish()
