"""Audit logic: list the audit and measure it (calls are recorded by
:mod:`apismith.executions.writer`)."""

from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.executions.repository import ExecutionRepository
from apismith.executions.schemas import ApiLatency, ExecutionFilter, ExecutionOut, ExecutionPage


async def list_executions(
    *, conn: AsyncConnection, filters: ExecutionFilter, page: int, page_size: int
) -> ExecutionPage:
    """One page of the audit rows that match ``filters``, newest first."""
    rows, total = await ExecutionRepository(conn).page(
        filters=filters, offset=(page - 1) * page_size, limit=page_size
    )
    return ExecutionPage(
        items=[ExecutionOut.model_validate(dict(row)) for row in rows],
        total=total,
        page=page,
        page_size=page_size,
    )


async def latency_by_api(*, conn: AsyncConnection, filters: ExecutionFilter) -> list[ApiLatency]:
    """Per API, over the rows that match ``filters``: calls, errors, p50, p95 and max ms."""
    rows = await ExecutionRepository(conn).latency_by_slug(filters=filters)
    return [ApiLatency.model_validate(dict(row)) for row in rows]
