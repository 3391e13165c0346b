"""Runtime endpoints (readers): execute one page of an API, or stream all of its rows."""

from typing import Annotated

from fastapi import APIRouter, Body, Header, Response
from fastapi.responses import StreamingResponse

from apismith.auth.dependencies import Reader
from apismith.runtime import service
from apismith.runtime.context import Runtime
from apismith.runtime.encoding import StreamFormat
from apismith.runtime.schemas import ExecuteRequest, ExecuteResponse, StreamRequest

router = APIRouter(tags=["runtime"])

_STREAM_CONTENT: dict[str, dict[str, object]] = {
    StreamFormat.NDJSON: {"schema": {"type": "string", "description": "one JSON object per line"}},
    StreamFormat.CSV: {"schema": {"type": "string", "description": "header row, then rows"}},
    StreamFormat.ARROW: {"schema": {"type": "string", "format": "binary"}},
}


@router.post(
    "/runtime/{slug}/execute",
    response_model=ExecuteResponse,
    responses={200: {"content": {"application/json": {}}}},
)
async def execute(
    slug: str,
    principal: Reader,
    runtime: Runtime,
    body: Annotated[ExecuteRequest | None, Body()] = None,
) -> Response:
    """One page of the API's rows with paging metadata; pass ``next_cursor`` for the next."""
    content = await service.execute(
        runtime=runtime,
        principal=principal,
        slug=slug,
        body=body or ExecuteRequest(),
    )
    return Response(content, media_type="application/json")


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
