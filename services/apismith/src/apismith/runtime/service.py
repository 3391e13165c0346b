"""Runtime calls: one page of a saved API (execute), or every row of it (stream).

Both take the API and its connection and check the caller's inputs
(``apismith.runtime.call``), wrap the saved query with the caller's parameters,
filters, sort and cursor (``apismith.sql``: every value is a bound parameter), run it
through the connection's driver and audit the call, failures included, in a
transaction of its own (``apismith.runtime.audit``, ``apismith.executions``). A page's
parts are in ``apismith.runtime.page``, a stream's body (and how a late failure ends it)
in ``apismith.runtime.stream``.
"""

from apismith.auth.principal import Principal
from apismith.runtime.arrow_native import native_row
from apismith.runtime.audit import CallAudit
from apismith.runtime.call import check_shape, prepare_call
from apismith.runtime.context import RuntimeContext
from apismith.runtime.encoding import PageFormat, Row, negotiate, negotiate_page
from apismith.runtime.page import (
    PageResponse,
    native_page,
    page_response,
    page_size_of,
    rows_page,
)
from apismith.runtime.schemas import ExecuteRequest, StreamRequest
from apismith.runtime.stream import ENCODERS, RowStream, stream_body
from apismith.sql import (
    build_count_query,
    build_page_query,
    build_stream_query,
    cursor_fingerprint,
    decode_cursor,
    encode_cursor,
)


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
    audit = CallAudit(writer=runtime.writer, principal=principal, slug=slug, kind="execute")
    try:
        call = await prepare_call(runtime=runtime, slug=slug, body=body, audit=audit)
        page_size = page_size_of(body.page_size, settings, max_rows=call.driver.options.max_rows)
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
            native = await native_page(call, page_query, after=after, page_size=page_size)
        rows: list[Row] = []
        if native is None:
            rows = await rows_page(call, page_query, after=after, page_size=page_size)
        row_count = len(rows) if native is None else native.num_rows
        next_cursor = None
        if row_count > page_size:  # the one extra row says a next page exists
            if native is not None:
                native = native.slice(0, page_size)
                last = native_row(native, page_size - 1)
            else:
                rows = rows[:page_size]
                last = rows[-1]
            row_count = page_size
            next_cursor = encode_cursor(
                call.order.row_values(last, call.columns), secret=secret, fingerprint=fingerprint
            )
        total_rows = None
        if body.include_total:
            count_query = build_count_query(
                call.query, columns=call.columns, params=call.params, filters=call.filters
            )
            [(count,)] = await call.driver.fetch(count_query)
            total_rows = int(count)
        response = page_response(
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
    audit = CallAudit(writer=runtime.writer, principal=principal, slug=slug, kind="stream")
    try:
        call = await prepare_call(runtime=runtime, slug=slug, body=body, audit=audit)
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
        check_shape(first or [], call.columns)
        encoder = ENCODERS[media](call.columns, call.zone)
    except BaseException as error:
        audit.failed(error)
        raise
    return RowStream(
        media_type=media,
        body=stream_body(chunks=chunks, first=first, encoder=encoder, audit=audit),
    )
