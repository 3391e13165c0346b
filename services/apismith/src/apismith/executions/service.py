"""Audit logic: record every runtime call in its own transaction; list the audit.

A call's audit row is written in a short transaction of its own, so a call that
fails (and rolls back whatever else it did) is still recorded. Failing to write
the audit is logged, never turned into the caller's error.
"""

from datetime import UTC, datetime

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.executions.metrics import DURATION, EXECUTIONS, ROWS, UNKNOWN_SLUG
from apismith.executions.repository import ExecutionRepository
from apismith.executions.schemas import ExecutionOut, ExecutionPage, ExecutionRecord
from bridge_core.db.transaction import Database
from bridge_core.secrets import mask_secrets

MAX_ERROR_LENGTH = 2_000


async def record_execution(*, database: Database, record: ExecutionRecord) -> None:
    """Store ``record`` in its own transaction and count it in the metrics."""
    label = record.slug if record.api_uid is not None else UNKNOWN_SLUG
    EXECUTIONS.labels(label, record.kind, record.status).inc()
    ROWS.labels(label, record.kind).inc(record.row_count)
    DURATION.labels(label, record.kind).observe(record.duration_ms / 1000)
    # error texts come from our own messages; masking again costs nothing and keeps it that way
    error = mask_secrets(record.error)[:MAX_ERROR_LENGTH] if record.error else None
    try:
        async with database.transaction() as conn:
            await ExecutionRepository(conn).insert(record, error=error, now=datetime.now(UTC))
    except Exception as exc:
        logger.opt(exception=exc).error(
            "could not audit {} of {!r} by {}", record.kind, record.slug, record.principal.name
        )


async def list_executions(
    *, conn: AsyncConnection, slug: str | None, page: int, page_size: int
) -> ExecutionPage:
    """One page of the audit, newest first, optionally for one slug."""
    rows, total = await ExecutionRepository(conn).page(
        slug=slug, offset=(page - 1) * page_size, limit=page_size
    )
    return ExecutionPage(
        items=[ExecutionOut.model_validate(dict(row)) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )
