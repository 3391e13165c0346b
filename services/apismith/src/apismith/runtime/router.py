"""Runtime endpoints (readers): execute one page of an API, or stream all of its rows."""

from typing import Annotated

from fastapi import APIRouter, Body, Header, Response
from fastapi.responses import StreamingResponse

from apismith.auth.dependencies import Reader
from apismith.runtime import service
from apismith.runtime.context import Runtime
from apismith.runtime.encoding import PageFormat, StreamFormat
from apismith.runtime.page import (
    EXECUTION_TIME_HEADER,
    NEXT_CURSOR_HEADER,
    PAGE_SIZE_HEADER,
    ROW_COUNT_HEADER,
    TOTAL_ROWS_HEADER,
)
from apismith.runtime.schemas import ExecuteRequest, ExecuteResponse, StreamRequest

router = APIRouter(tags=["runtime"])

_STREAM_CONTENT: dict[str, dict[str, object]] = {
    StreamFormat.NDJSON: {"schema": {"type": "string", "description": "one JSON object per line"}},
    StreamFormat.CSV: {"schema": {"type": "string", "description": "header row, then rows"}},
    StreamFormat.ARROW: {"schema": {"type": "string", "format": "binary"}},
}


_PAGE_HEADERS: dict[str, dict[str, object]] = {
    NEXT_CURSOR_HEADER: {
        "description": "Arrow only: the next page's cursor; absent on the last page",
        "schema": {"type": "string"},
    },
    TOTAL_ROWS_HEADER: {
        "description": "Arrow only: the filtered rows' count, when include_total",
        "schema": {"type": "integer"},
    },
    ROW_COUNT_HEADER: {"description": "Arrow only", "schema": {"type": "integer"}},
    PAGE_SIZE_HEADER: {"description": "Arrow only", "schema": {"type": "integer"}},
    EXECUTION_TIME_HEADER: {"description": "Arrow only", "schema": {"type": "number"}},
}


@router.post(
    "/runtime/{slug}/execute",
    response_model=ExecuteResponse,
    responses={
        200: {
            "content": {
                PageFormat.JSON: {},
                PageFormat.ARROW: {"schema": {"type": "string", "format": "binary"}},
            },
            "headers": _PAGE_HEADERS,
        },
        406: {"description": "unsupported Accept"},
    },
)
async def execute(
    slug: str,
    principal: Reader,
    runtime: Runtime,
    body: Annotated[ExecuteRequest | None, Body()] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """One page of the API's rows with paging metadata; pass ``next_cursor`` for the next.
    JSON by default; an Arrow IPC stream (metadata in ``APISmith-*`` headers) by ``Accept``."""
    page = await service.execute(
        runtime=runtime,
        principal=principal,
        slug=slug,
        body=body or ExecuteRequest(),
        accept=accept,
    )
    return Response(
        page.content,
        media_type=page.media_type,
        headers={**page.headers, "Vary": "Accept"},
    )


@router.post(
    "/runtime/{slug}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": _STREAM_CONTENT}, 406: {"description": "unsupported Accept"}},
)
async def stream(
    slug: str,
    principal: Reader,
    runtime: Runtime,
    body: Annotated[StreamRequest | None, Body()] = None,
    accept: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Every row of the API, streamed: NDJSON (default), CSV or Arrow by ``Accept``."""
    rows = await service.open_stream(
        runtime=runtime,
        principal=principal,
        slug=slug,
        body=body or StreamRequest(),
        accept=accept,
    )
    return StreamingResponse(rows.body, media_type=rows.media_type)
