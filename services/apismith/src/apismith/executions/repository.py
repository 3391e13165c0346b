"""All SQL of the execution audit: the ``executions`` table."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import RowMapping, String, func, insert, select

from apismith.executions.schemas import ExecutionRecord
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
        self, *, slug: str | None, offset: int, limit: int
    ) -> tuple[Sequence[RowMapping], int]:
        """One page of audit rows (newest first) and the number of rows in all pages."""
        condition = executions.c.slug == slug if slug is not None else None
        rows = select(executions).order_by(executions.c.created_at.desc(), executions.c.uid.desc())
        count = select(func.count()).select_from(executions)
        if condition is not None:
            rows = rows.where(condition)
            count = count.where(condition)
        items = (await self.conn.execute(rows.offset(offset).limit(limit))).mappings().all()
        return items, int(await self.conn.scalar(count) or 0)
