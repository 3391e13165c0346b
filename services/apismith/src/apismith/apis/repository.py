"""All SQL of the APIs feature: the ``apis`` table and its history in ``api_versions``."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from apismith.tables import api_versions, apis
from bridge_core.db.repository import Repository
from bridge_core.ids import new_id


class ApiRepository(Repository):
    """Saved APIs; ``version`` grows by one with every update."""

    async def insert(self, values: dict[str, Any], *, now: datetime) -> RowMapping | None:
        """Insert an API at version 1; ``None`` when its slug is taken."""
        statement = (
            pg_insert(apis)
            .values(uid=new_id(), version=1, created_at=now, updated_at=now, **values)
            .on_conflict_do_nothing(index_elements=[apis.c.slug])
            .returning(*apis.c)
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def update(
        self, uid: uuid.UUID, values: dict[str, Any], *, now: datetime
    ) -> RowMapping | None:
        """Replace an API's definition and bump its version; ``None`` when its new slug is taken.

        A taken slug fails the statement, which leaves the transaction unusable: the
        caller must end the request with an error.
        """
        statement = (
            update(apis)
            .where(apis.c.uid == uid)
            .values(version=apis.c.version + 1, updated_at=now, **values)
            .returning(*apis.c)
        )
        try:
            return (await self.conn.execute(statement)).mappings().first()
        except IntegrityError as exc:
            if "slug" in str(exc.orig):
                return None
            raise

    async def get(self, uid: uuid.UUID) -> RowMapping | None:
        return (await self.conn.execute(select(apis).where(apis.c.uid == uid))).mappings().first()

    async def get_by_slug(self, slug: str) -> RowMapping | None:
        statement = select(apis).where(apis.c.slug == slug)
        return (await self.conn.execute(statement)).mappings().first()

    async def slug_owner(self, slug: str) -> uuid.UUID | None:
        """The uid of the API with ``slug``, if any."""
        owner: uuid.UUID | None = await self.conn.scalar(
            select(apis.c.uid).where(apis.c.slug == slug)
        )
        return owner

    async def page(self, *, offset: int, limit: int) -> tuple[Sequence[RowMapping], int]:
        """One page of APIs by slug, and the number of APIs."""
        rows = select(apis).order_by(apis.c.slug).offset(offset).limit(limit)
        items = (await self.conn.execute(rows)).mappings().all()
        total = await self.conn.scalar(select(func.count()).select_from(apis))
        return items, int(total or 0)

    async def delete(self, uid: uuid.UUID) -> bool:
        """Delete an API and its history; False when there was none."""
        result = await self.conn.execute(
            delete(apis).where(apis.c.uid == uid).returning(apis.c.uid)
        )
        return result.first() is not None


class ApiVersionRepository(Repository):
    """Every saved definition of every API, one row per version."""

    async def insert(
        self,
        *,
        api_uid: uuid.UUID,
        version: int,
        definition: dict[str, Any],
        created_by: str,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            insert(api_versions).values(
                uid=new_id(),
                api_uid=api_uid,
                version=version,
                definition=definition,
                created_by=created_by,
                created_at=now,
            )
        )

    async def list_for(self, api_uid: uuid.UUID) -> Sequence[RowMapping]:
        """An API's versions, newest first."""
        statement = (
            select(api_versions)
            .where(api_versions.c.api_uid == api_uid)
            .order_by(api_versions.c.version.desc())
        )
        return (await self.conn.execute(statement)).mappings().all()
