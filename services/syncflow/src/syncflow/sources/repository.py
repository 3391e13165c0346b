"""All SQL of the sources feature: the ``sources`` table (and which entities use a source)."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import RowMapping, delete, select, update
from sqlalchemy.dialects.postgresql import insert

from bridge_core.db.repository import Repository
from syncflow.tables import entities, sources

_PUBLIC_COLUMNS = (
    sources.c.uid,
    sources.c.name,
    sources.c.base_url,
    sources.c.created_at,
    sources.c.updated_at,
)


class SourceRepository(Repository):
    """Sources; the encrypted token is read only by :meth:`get_with_token`."""

    async def insert(
        self, *, uid: UUID, name: str, base_url: str, token_encrypted: bytes, now: datetime
    ) -> RowMapping | None:
        """Insert a source; ``None`` when the name is taken."""
        statement = (
            insert(sources)
            .values(
                uid=uid,
                name=name,
                base_url=base_url,
                token_encrypted=token_encrypted,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[sources.c.name])
            .returning(*_PUBLIC_COLUMNS)
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def get(self, uid: UUID) -> RowMapping | None:
        statement = select(*_PUBLIC_COLUMNS).where(sources.c.uid == uid)
        return (await self.conn.execute(statement)).mappings().first()

    async def get_with_token(self, *, uid: UUID | None, name: str | None) -> RowMapping | None:
        """A source by uid or by name, with its ``token_encrypted``."""
        condition = sources.c.uid == uid if uid is not None else sources.c.name == name
        statement = select(*_PUBLIC_COLUMNS, sources.c.token_encrypted).where(condition)
        return (await self.conn.execute(statement)).mappings().first()

    async def list(self) -> Sequence[RowMapping]:
        statement = select(*_PUBLIC_COLUMNS).order_by(sources.c.name)
        return (await self.conn.execute(statement)).mappings().all()

    async def update(
        self, uid: UUID, *, base_url: str | None, token_encrypted: bytes | None, now: datetime
    ) -> RowMapping | None:
        """Set the given values; ``None`` when the source does not exist."""
        values: dict[str, object] = {"updated_at": now}
        if base_url is not None:
            values["base_url"] = base_url
        if token_encrypted is not None:
            values["token_encrypted"] = token_encrypted
        statement = (
            update(sources).where(sources.c.uid == uid).values(values).returning(*_PUBLIC_COLUMNS)
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def delete(self, uid: UUID) -> None:
        await self.conn.execute(delete(sources).where(sources.c.uid == uid))

    async def entity_slugs(self, uid: UUID) -> Sequence[RowMapping]:
        """``(name, api_slug)`` of the entities that read from the source."""
        statement = (
            select(entities.c.name, entities.c.api_slug)
            .where(entities.c.source_uid == uid)
            .order_by(entities.c.name)
        )
        return (await self.conn.execute(statement)).mappings().all()
