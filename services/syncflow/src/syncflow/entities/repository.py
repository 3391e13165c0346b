"""All SQL of the entities feature: the ``entities`` table, and the rows of other tables
that keep an entity from being changed or deleted (running batches, schedules)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from bridge_core.db.repository import Repository
from syncflow.tables import entities, entity_state, pending_children, schedules, sync_batches


class EntityRepository(Repository):
    """Entity definitions (resolved JSON) and the API columns they were resolved against."""

    async def insert(
        self,
        *,
        uid: UUID,
        name: str,
        source_uid: UUID,
        api_slug: str,
        definition: dict[str, Any],
        api_columns: list[dict[str, Any]],
        now: datetime,
    ) -> RowMapping | None:
        """Insert an entity; ``None`` when the name is taken."""
        statement = (
            insert(entities)
            .values(
                uid=uid,
                name=name,
                source_uid=source_uid,
                api_slug=api_slug,
                definition=definition,
                api_columns=api_columns,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[entities.c.name])
            .returning(*entities.c)
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def get(self, name: str, *, for_update: bool = False) -> RowMapping | None:
        """One entity; ``for_update`` locks it until the transaction ends."""
        statement = select(entities).where(entities.c.name == name)
        if for_update:
            statement = statement.with_for_update()
        return (await self.conn.execute(statement)).mappings().first()

    async def exists(self, name: str) -> bool:
        statement = select(entities.c.uid).where(entities.c.name == name)
        return await self.conn.scalar(statement) is not None

    async def list_all(self) -> Sequence[RowMapping]:
        statement = select(entities).order_by(entities.c.name)
        return (await self.conn.execute(statement)).mappings().all()

    async def lock_for_share(self, names: Sequence[str]) -> None:
        """Keep these entities (a new child's parents) from being deleted meanwhile."""
        if names:
            await self.conn.execute(
                select(entities.c.uid).where(entities.c.name.in_(names)).with_for_update(read=True)
            )

    async def update(
        self,
        name: str,
        *,
        source_uid: UUID,
        api_slug: str,
        definition: dict[str, Any],
        api_columns: list[dict[str, Any]],
        now: datetime,
    ) -> RowMapping:
        statement = (
            update(entities)
            .where(entities.c.name == name)
            .values(
                source_uid=source_uid,
                api_slug=api_slug,
                definition=definition,
                api_columns=api_columns,
                updated_at=now,
            )
            .returning(*entities.c)
        )
        return (await self.conn.execute(statement)).mappings().one()

    async def delete(self, name: str) -> None:
        """Delete the entity with its cursor and parked rows (batch history is kept)."""
        await self.conn.execute(
            delete(pending_children).where(pending_children.c.entity_name == name)
        )
        await self.conn.execute(delete(entity_state).where(entity_state.c.entity_name == name))
        await self.conn.execute(delete(entities).where(entities.c.name == name))

    async def batches_in(self, name: str, statuses: Sequence[str]) -> int:
        """How many of the entity's batches have one of ``statuses``."""
        statement = select(func.count()).where(
            sync_batches.c.entity_name == name, sync_batches.c.status.in_(statuses)
        )
        return int(await self.conn.scalar(statement) or 0)

    async def schedule_count(self, name: str) -> int:
        statement = select(func.count()).where(schedules.c.entity_name == name)
        return int(await self.conn.scalar(statement) or 0)
