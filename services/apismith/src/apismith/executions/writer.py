"""The audit writer: runtime calls are recorded at once in memory and written in batches.

Writing each call's audit row in a transaction of its own cost a round trip to the
metadata database on every request, a fifth of a page request's time under load. Calls
are now queued (``add`` never waits and never fails the caller) and written together,
in one transaction, at most ``interval`` seconds later, at once when ``batch`` are
waiting, before the audit is listed, and when the service stops. A process killed with
SIGKILL loses the calls of its last ``interval`` (0.2 s) from the audit; their metrics
were counted already.
"""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from loguru import logger

from apismith.executions.metrics import DURATION, EXECUTIONS, ROWS, UNKNOWN_SLUG
from apismith.executions.repository import AuditRow, ExecutionRepository
from apismith.executions.schemas import ExecutionRecord
from bridge_core.db.transaction import Database
from bridge_core.secrets import mask_secrets

MAX_ERROR_LENGTH = 2_000


class AuditWriter:
    """Queued audit rows of one process, written in batches."""

    def __init__(self, database: Database, *, interval: float = 0.2, batch: int = 500) -> None:
        self.database = database
        self.interval = interval
        self.batch = batch
        self._pending: list[AuditRow] = []
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(self, record: ExecutionRecord) -> None:
        """Count ``record`` in the metrics and queue its audit row."""
        label = record.slug if record.api_uid is not None else UNKNOWN_SLUG
        EXECUTIONS.labels(label, record.kind, record.status).inc()
        ROWS.labels(label, record.kind).inc(record.row_count)
        DURATION.labels(label, record.kind).observe(record.duration_ms / 1000)
        # error texts come from our own messages; masking again costs nothing
        error = mask_secrets(record.error)[:MAX_ERROR_LENGTH] if record.error else None
        self._pending.append(AuditRow(record=record, error=error, at=datetime.now(UTC)))
        if self._timer is None or self._timer.done():
            delay = 0.0 if len(self._pending) >= self.batch else self.interval
            self._timer = asyncio.get_running_loop().create_task(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.flush()

    async def flush(self) -> None:
        """Write every queued row now (one transaction); a failure is logged, not raised."""
        async with self._lock:
            rows, self._pending = self._pending, []
            if not rows:
                return
            try:
                async with self.database.transaction() as conn:
                    await ExecutionRepository(conn).insert_many(rows)
            except Exception as exc:
                logger.opt(exception=exc).error("could not write {} audit rows", len(rows))

    async def close(self) -> None:
        """Write what is queued; called when the service stops."""
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        await self.flush()


async def get_audit_writer(request: Request) -> AuditWriter:
    """The app's audit writer (set by the lifespan)."""
    writer: AuditWriter = request.app.state.audit
    return writer


AuditLog = Annotated[AuditWriter, Depends(get_audit_writer)]
