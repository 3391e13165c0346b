"""Audit logic: list the audit (calls are recorded by :mod:`apismith.executions.writer`)."""

from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.executions.repository import ExecutionRepository
from apismith.executions.schemas import ExecutionOut, ExecutionPage


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
