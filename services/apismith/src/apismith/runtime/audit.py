"""The audit of one runtime call (``execute`` or ``stream``): who called which API, how
it ended and how long it took, handed to the execution writer (``apismith.executions``)
once, at the end, failures included.
"""

import asyncio
import time

from apismith.apis.schemas import ApiOut
from apismith.auth.principal import Principal
from apismith.drivers.base import RowLimitExceeded
from apismith.executions.schemas import ExecutionKind, ExecutionRecord, ExecutionStatus
from apismith.executions.writer import AuditWriter
from bridge_core.errors import BridgeError, GatewayTimeout


class CallAudit:
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
        status, detail = outcome(error)
        self.record(status, rows=rows, error=detail)


def outcome(error: BaseException) -> tuple[ExecutionStatus, str]:
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
