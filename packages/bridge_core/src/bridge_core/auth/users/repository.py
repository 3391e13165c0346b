"""All SQL on a service's ``users`` table (the table is the service's, given to the constructor)."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import RowMapping, Table, exists, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.db.repository import Repository
from bridge_core.ids import new_id

__all__ = ["UserRepository"]


class UserRepository(Repository):
    """Users and their password hashes, in ``table`` (columns as both services' ``users``)."""

    def __init__(self, conn: AsyncConnection, table: Table) -> None:
        super().__init__(conn)
        self.table = table
        c = table.c
        self.columns = (c.uid, c.username, c.role, c.is_active, c.created_at)

    async def insert(
        self, *, username: str, password_hash: str, role: str, now: datetime
    ) -> RowMapping | None:
        """Insert a user; ``None`` when the username is taken."""
        statement = (
            insert(self.table)
            .values(
                uid=new_id(),
                username=username,
                password_hash=password_hash,
                role=role,
                is_active=True,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[self.table.c.username])
            .returning(*self.columns)
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def any_exists(self) -> bool:
        return bool(await self.conn.scalar(select(exists().select_from(self.table))))

    async def get_credentials(self, username: str) -> RowMapping | None:
        """The user with its ``password_hash`` (for sign-in only)."""
        statement = select(*self.columns, self.table.c.password_hash).where(
            self.table.c.username == username
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def get(self, uid: UUID) -> RowMapping | None:
        statement = select(*self.columns).where(self.table.c.uid == uid)
        return (await self.conn.execute(statement)).mappings().first()

    async def list(self) -> Sequence[RowMapping]:
        statement = select(*self.columns).order_by(self.table.c.username)
        return (await self.conn.execute(statement)).mappings().all()

    async def set_password_hash(self, uid: UUID, password_hash: str, now: datetime) -> None:
        await self.conn.execute(
            update(self.table)
            .where(self.table.c.uid == uid)
            .values(password_hash=password_hash, updated_at=now)
        )
