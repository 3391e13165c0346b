"""All SQL of the execution audit: the ``executions`` table."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, RowMapping, String, func, insert, select

from apismith.executions.schemas import ExecutionFilter, ExecutionRecord
from apismith.tables import executions
from bridge_core.db.repository import Repository
from bridge_core.ids import new_id

# a call to an unknown slug is audited too, and its path may be longer than any saved slug
_SLUG_LENGTH = cast(String, executions.c.slug.type).length


@dataclass(frozen=True)
class AuditRow:
    """One call to store: the record, its masked error text, and when it ended."""

    record: ExecutionRecord
    error: str | None
    at: datetime


class ExecutionRepository(Repository):
    """Audit rows, newest first."""

    async def insert_many(self, rows: Sequence[AuditRow]) -> None:
        await self.conn.execute(
            insert(executions),
            [
                {
                    "uid": new_id(),
                    "api_uid": row.record.api_uid,
                    "slug": row.record.slug[:_SLUG_LENGTH],
                    "api_version": row.record.api_version,
                    "principal": row.record.principal.name,
                    "principal_kind": row.record.principal.kind,
                    "kind": row.record.kind,
                    "status": row.record.status,
                    "row_count": row.record.row_count,
                    "duration_ms": row.record.duration_ms,
                    "error": row.error,
                    "created_at": row.at,
                }
                for row in rows
            ],
        )

    async def page(
        self, *, filters: ExecutionFilter, offset: int, limit: int
    ) -> tuple[Sequence[RowMapping], int]:
        """One page of audit rows (newest first) and the number of rows in all pages."""
        conditions = _conditions(filters)
        rows = (
            select(executions)
            .where(*conditions)
            .order_by(executions.c.created_at.desc(), executions.c.uid.desc())
        )
        count = select(func.count()).select_from(executions).where(*conditions)
        items = (await self.conn.execute(rows.offset(offset).limit(limit))).mappings().all()
        return items, int(await self.conn.scalar(count) or 0)

    async def latency_by_slug(self, *, filters: ExecutionFilter) -> Sequence[RowMapping]:
        """Per slug of the filtered rows: calls, errors, median, 95th percentile, max ms."""
        duration = executions.c.duration_ms
        query = (
            select(
                executions.c.slug,
                func.count().label("calls"),
                func.count().filter(executions.c.status != "ok").label("errors"),
                func.percentile_cont(0.5).within_group(duration).label("p50_ms"),
                func.percentile_cont(0.95).within_group(duration).label("p95_ms"),
                func.max(duration).label("max_ms"),
            )
            .where(*_conditions(filters))
            .group_by(executions.c.slug)
            .order_by(executions.c.slug)
        )
        return (await self.conn.execute(query)).mappings().all()


def _conditions(filters: ExecutionFilter) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.slug is not None:
        conditions.append(executions.c.slug == filters.slug)
    if filters.principal is not None:
        conditions.append(executions.c.principal == filters.principal)
    if filters.status is not None:
        conditions.append(executions.c.status == filters.status)
    if filters.created_from is not None:
        conditions.append(executions.c.created_at >= filters.created_from)
    if filters.created_before is not None:
        conditions.append(executions.c.created_at < filters.created_before)
    return conditions
