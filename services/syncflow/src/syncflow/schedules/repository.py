"""All SQL of the schedules feature: the ``schedules`` table."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update

from bridge_core.db.repository import Repository
from syncflow.tables import entities, schedules


class ScheduleRepository(Repository):
    async def entity_exists(self, name: str) -> bool:
        return (
            await self.conn.scalar(select(entities.c.uid).where(entities.c.name == name))
            is not None
        )

    async def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        row = (
            await self.conn.execute(schedules.insert().values(**values).returning(schedules))
        ).one()
        return dict(row._mapping)

    async def get(self, uid: UUID) -> dict[str, Any] | None:
        row = (await self.conn.execute(select(schedules).where(schedules.c.uid == uid))).first()
        return dict(row._mapping) if row else None

    async def page(
        self, *, entity: str | None, page: int, page_size: int
    ) -> tuple[list[dict[str, Any]], int]:
        query = select(schedules).order_by(schedules.c.entity_name, schedules.c.created_at)
        count = select(func.count()).select_from(schedules)
        if entity:
            query = query.where(schedules.c.entity_name == entity)
            count = count.where(schedules.c.entity_name == entity)
        total = int(await self.conn.scalar(count) or 0)
        rows = await self.conn.execute(query.limit(page_size).offset((page - 1) * page_size))
        return [dict(r._mapping) for r in rows], total

    async def update(self, uid: UUID, values: dict[str, Any]) -> dict[str, Any] | None:
        row = (
            await self.conn.execute(
                update(schedules)
                .where(schedules.c.uid == uid)
                .values(**values)
                .returning(schedules)
            )
        ).first()
        return dict(row._mapping) if row else None

    async def delete(self, uid: UUID) -> bool:
        result = await self.conn.execute(schedules.delete().where(schedules.c.uid == uid))
        return result.rowcount == 1

    async def lock_due(self, *, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Active schedules due at ``now``, locked; ``SKIP LOCKED`` lets several workers
        look at once while each due run is queued by exactly one of them."""
        rows = await self.conn.execute(
            select(schedules)
            .where(schedules.c.is_active, schedules.c.next_run_at <= now)
            .order_by(schedules.c.next_run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [dict(r._mapping) for r in rows]

    async def set_next_run(
        self,
        uid: UUID,
        *,
        next_run_at: datetime,
        last_run_at: datetime | None = None,
        last_batch_uid: UUID | None = None,
    ) -> None:
        values: dict[str, Any] = {"next_run_at": next_run_at}
        if last_run_at is not None:
            values["last_run_at"] = last_run_at
            values["last_batch_uid"] = last_batch_uid
        await self.conn.execute(update(schedules).where(schedules.c.uid == uid).values(**values))
