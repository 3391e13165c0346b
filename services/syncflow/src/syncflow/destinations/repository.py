"""All SQL of the destinations feature: the ``destinations`` table."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from bridge_core.db.repository import Repository
from syncflow.tables import destinations, entities


class DestinationRepository(Repository):
    """Destinations, with their encrypted credentials (the service never returns them)."""

    async def insert(self, values: dict[str, Any]) -> RowMapping | None:
        """Insert a destination; ``None`` when the name is taken."""
        statement = (
            insert(destinations)
            .values(values)
            .on_conflict_do_nothing(index_elements=[destinations.c.name])
            .returning(*destinations.c)
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def get(self, uid: UUID) -> RowMapping | None:
        statement = select(destinations).where(destinations.c.uid == uid)
        return (await self.conn.execute(statement)).mappings().first()

    async def get_by_name(self, name: str) -> RowMapping | None:
        statement = select(destinations).where(destinations.c.name == name)
        return (await self.conn.execute(statement)).mappings().first()

    async def page(
        self, *, kind: str | None, paused: bool | None, offset: int, limit: int
    ) -> tuple[Sequence[RowMapping], int]:
        """One page of destinations by name, and how many match in all."""
        conditions = []
        if kind is not None:
            conditions.append(destinations.c.kind == kind)
        if paused is not None:
            conditions.append(
                destinations.c.paused_at.is_not(None)
                if paused
                else destinations.c.paused_at.is_(None)
            )
        rows = (
            (
                await self.conn.execute(
                    select(destinations)
                    .where(*conditions)
                    .order_by(destinations.c.name)
                    .offset(offset)
                    .limit(limit)
                )
            )
            .mappings()
            .all()
        )
        total = await self.conn.scalar(
            select(func.count()).select_from(destinations).where(*conditions)
        )
        return rows, int(total or 0)

    async def update(self, uid: UUID, values: dict[str, Any]) -> RowMapping | None:
        """Set the given values; ``None`` when the destination does not exist."""
        statement = (
            update(destinations)
            .where(destinations.c.uid == uid)
            .values(values)
            .returning(*destinations.c)
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def delete(self, uid: UUID) -> bool:
        """Delete a destination; ``False`` when it did not exist."""
        result = await self.conn.execute(
            delete(destinations).where(destinations.c.uid == uid).returning(destinations.c.uid)
        )
        return result.first() is not None

    async def enabled(self) -> Sequence[RowMapping]:
        """Every enabled destination, by name."""
        statement = select(destinations).where(destinations.c.enabled).order_by(destinations.c.name)
        return (await self.conn.execute(statement)).mappings().all()

    async def known_entities(self, names: Sequence[str]) -> set[str]:
        """Which of ``names`` are defined entities."""
        statement = select(entities.c.name).where(entities.c.name.in_(list(names)))
        return set((await self.conn.execute(statement)).scalars().all())

    async def delivered_entities(self) -> tuple[bool, set[str]]:
        """``(every entity, the entities named)`` over all destinations, paused ones too
        (they catch up later): what the outbox must record changes of."""
        lists = (await self.conn.execute(select(destinations.c.entities))).scalars().all()
        return any(not names for names in lists), {name for names in lists for name in names}
