"""SQL behind the monitoring endpoints: failed records, parked children, batch statistics."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, select, update

from bridge_core.db.repository import Repository
from syncflow.monitoring.schemas import FailedRecordFilter
from syncflow.tables import (
    entities,
    entity_state,
    failed_records,
    pending_children,
    schedules,
    sync_batches,
)


class MonitoringRepository(Repository):
    async def _page(
        self, query: Select[Any], *, page: int, page_size: int
    ) -> tuple[list[dict[str, Any]], int]:
        total = int(await self.conn.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = await self.conn.execute(query.limit(page_size).offset((page - 1) * page_size))
        return [dict(r._mapping) for r in rows], total

    async def failed_records(
        self, filters: FailedRecordFilter, *, page: int, page_size: int
    ) -> tuple[list[dict[str, Any]], int]:
        query = select(failed_records).order_by(failed_records.c.created_at.desc())
        if filters.entity:
            query = query.where(failed_records.c.entity_name == filters.entity)
        if filters.batch_uid:
            query = query.where(failed_records.c.batch_uid == filters.batch_uid)
        if filters.stage:
            query = query.where(failed_records.c.stage == filters.stage)
        if not filters.include_resolved:
            query = query.where(failed_records.c.resolved_at.is_(None))
        return await self._page(query, page=page, page_size=page_size)

    async def open_failures_grouped(self, uids: Sequence[UUID]) -> dict[str, list[UUID]]:
        """The open ones among failed records ``uids``, grouped by entity."""
        rows = await self.conn.execute(
            select(failed_records.c.entity_name, failed_records.c.uid)
            .where(failed_records.c.uid.in_(list(uids)), failed_records.c.resolved_at.is_(None))
            .order_by(failed_records.c.entity_name, failed_records.c.created_at)
        )
        grouped: dict[str, list[UUID]] = {}
        for entity, uid in rows:
            grouped.setdefault(entity, []).append(uid)
        return grouped

    async def dismiss_failures(self, uids: Sequence[UUID], *, by: str, at: datetime) -> int:
        """Close the open ones among failed records ``uids`` as dismissed; how many were."""
        result = await self.conn.execute(
            update(failed_records)
            .where(failed_records.c.uid.in_(list(uids)), failed_records.c.resolved_at.is_(None))
            .values(resolved_at=at, dismissed_at=at, dismissed_by=by)
        )
        return int(result.rowcount)

    async def pending_children(
        self, *, entity: str | None, parent_entity: str | None, page: int, page_size: int
    ) -> tuple[list[dict[str, Any]], int]:
        query = select(pending_children).order_by(pending_children.c.created_at.desc())
        if entity:
            query = query.where(pending_children.c.entity_name == entity)
        if parent_entity:
            query = query.where(pending_children.c.parent_entity == parent_entity)
        return await self._page(query, page=page, page_size=page_size)

    async def batches_by_status(self) -> dict[str, int]:
        rows = await self.conn.execute(
            select(sync_batches.c.status, func.count()).group_by(sync_batches.c.status)
        )
        return dict(rows.all())

    async def batches_by_entity_status(self) -> dict[tuple[str, str], int]:
        rows = await self.conn.execute(
            select(sync_batches.c.entity_name, sync_batches.c.status, func.count()).group_by(
                sync_batches.c.entity_name, sync_batches.c.status
            )
        )
        return {(row[0], row[1]): int(row[2]) for row in rows}

    async def entity_names(self) -> list[str]:
        return list((await self.conn.execute(select(entities.c.name))).scalars())

    async def next_runs(self) -> dict[str, Any]:
        """The earliest next run of each entity's active schedules."""
        rows = await self.conn.execute(
            select(schedules.c.entity_name, func.min(schedules.c.next_run_at))
            .where(schedules.c.is_active)
            .group_by(schedules.c.entity_name)
        )
        return {row[0]: row[1] for row in rows}

    async def open_failures_by_entity(self) -> dict[str, int]:
        rows = await self.conn.execute(
            select(failed_records.c.entity_name, func.count())
            .where(failed_records.c.resolved_at.is_(None))
            .group_by(failed_records.c.entity_name)
        )
        return dict(rows.all())

    async def pending_by_entity(self) -> dict[str, int]:
        rows = await self.conn.execute(
            select(pending_children.c.entity_name, func.count()).group_by(
                pending_children.c.entity_name
            )
        )
        return dict(rows.all())

    async def entity_states(self) -> list[dict[str, Any]]:
        rows = await self.conn.execute(select(entity_state))
        return [dict(r._mapping) for r in rows]

    async def latest_batches(self) -> list[dict[str, Any]]:
        """The newest batch of every entity."""
        ranked = select(
            sync_batches,
            func.row_number()
            .over(
                partition_by=sync_batches.c.entity_name, order_by=sync_batches.c.created_at.desc()
            )
            .label("rank"),
        ).subquery()
        rows = await self.conn.execute(select(ranked).where(ranked.c.rank == 1))
        return [dict(r._mapping) for r in rows]
