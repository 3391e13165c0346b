"""A ``stream``'s body: every row, encoded a chunk at a time as the ERP delivers them.

The first chunk is read before the response starts (``service.open_stream``), so a bad
request, an unreachable ERP or a statement timeout still gets its 4xx/502/504. A later
failure can only break the response off (the client sees an incomplete body, never a
short one that looks whole). Past the connection's ``max_rows`` the driver stops the
query: a 502 when that shows in the first chunk, else the stream is broken off like any
other late failure, so a stream that ends normally always holds every row. Either way
the call is audited as ``truncated``.
"""

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import anyio

from apismith.drivers.base import RowLimitExceeded
from apismith.executions.schemas import ExecutionStatus
from apismith.runtime.arrow import ArrowEncoder
from apismith.runtime.audit import CallAudit, outcome
from apismith.runtime.call import check_shape
from apismith.runtime.encoding import CsvEncoder, NdjsonEncoder, Row, RowEncoder, StreamFormat

ENCODERS: dict[StreamFormat, type[RowEncoder]] = {
    StreamFormat.NDJSON: NdjsonEncoder,
    StreamFormat.CSV: CsvEncoder,
    StreamFormat.ARROW: ArrowEncoder,
}


@dataclass(frozen=True)
class RowStream:
    """A stream's media type and the bytes of its body, produced as the ERP delivers rows."""

    media_type: str
    body: AsyncIterator[bytes]


async def stream_body(
    *,
    chunks: AsyncIterator[list[Row]],
    first: list[Row] | None,
    encoder: RowEncoder,
    audit: CallAudit,
) -> AsyncIterator[bytes]:
    """The encoded rows, one chunk at a time; the audit is written when the stream ends."""
    sent = 0
    status: ExecutionStatus = "ok"
    error: str | None = None
    try:
        yield encoder.start()
        chunk = first
        while chunk:
            check_shape(chunk, encoder.columns)
            yield encoder.encode(chunk)
            sent += len(chunk)
            chunk = await anext(chunks, None)
    except RowLimitExceeded as exc:
        # never end normally: a client must not take the rows so far for all of them
        status, error = "truncated", f"stopped after {sent} rows: {exc.detail}"
        raise
    except BaseException as exc:
        status, error = outcome(exc)
        raise
    finally:
        if isinstance(chunks, AsyncGenerator):  # release the ERP connection now, not at GC
            with anyio.CancelScope(shield=True):
                await chunks.aclose()
        audit.record(status, rows=sent, error=error)
    yield encoder.finish()
