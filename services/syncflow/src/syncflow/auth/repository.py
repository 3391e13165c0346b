"""All SQL of the auth feature: the ``users`` and ``operator_tokens`` tables."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import RowMapping, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bridge_core.db.repository import Repository
from bridge_core.ids import new_id
from syncflow.auth.principal import Role
from syncflow.tables import operator_tokens, users

_COLUMNS = (
    operator_tokens.c.uid,
    operator_tokens.c.name,
    operator_tokens.c.created_at,
    operator_tokens.c.revoked_at,
)

_USER_COLUMNS = (users.c.uid, users.c.username, users.c.role, users.c.is_active, users.c.created_at)


class UserRepository(Repository):
    """Users and their password hashes."""

    async def insert(
        self, *, username: str, password_hash: str, role: Role, now: datetime
    ) -> RowMapping | None:
        """Insert a user; ``None`` when the username is taken."""
        statement = (
            pg_insert(users)
            .values(
                uid=new_id(),
                username=username,
                password_hash=password_hash,
                role=role,
                is_active=True,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[users.c.username])
            .returning(*_USER_COLUMNS)
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def any_exists(self) -> bool:
        return bool(await self.conn.scalar(select(exists().select_from(users))))

    async def get_credentials(self, username: str) -> RowMapping | None:
        """The user with its ``password_hash`` (for sign-in only)."""
        statement = select(*_USER_COLUMNS, users.c.password_hash).where(
            users.c.username == username
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def get(self, uid: UUID) -> RowMapping | None:
        statement = select(*_USER_COLUMNS).where(users.c.uid == uid)
        return (await self.conn.execute(statement)).mappings().first()

    async def list(self) -> Sequence[RowMapping]:
        statement = select(*_USER_COLUMNS).order_by(users.c.username)
        return (await self.conn.execute(statement)).mappings().all()

    async def set_password_hash(self, uid: UUID, password_hash: str, now: datetime) -> None:
        await self.conn.execute(
            update(users)
            .where(users.c.uid == uid)
            .values(password_hash=password_hash, updated_at=now)
        )


class OperatorTokenRepository(Repository):
    """Operator tokens, stored only as hashes of their values."""

    async def insert(self, *, uid: UUID, name: str, token_hash: str, now: datetime) -> None:
        await self.conn.execute(
            insert(operator_tokens).values(
                uid=uid, name=name, token_hash=token_hash, created_at=now, updated_at=now
            )
        )

    async def get_by_hash(self, token_hash: str) -> RowMapping | None:
        statement = select(*_COLUMNS).where(operator_tokens.c.token_hash == token_hash)
        return (await self.conn.execute(statement)).mappings().first()

    async def list(self) -> Sequence[RowMapping]:
        statement = select(*_COLUMNS).order_by(operator_tokens.c.created_at)
        return (await self.conn.execute(statement)).mappings().all()

    async def revoke(self, uid: UUID, now: datetime) -> bool:
        """Mark a token revoked (the first revocation is kept); False when it does not exist."""
        statement = (
            update(operator_tokens)
            .where(operator_tokens.c.uid == uid)
            .values(revoked_at=func.coalesce(operator_tokens.c.revoked_at, now), updated_at=now)
            .returning(operator_tokens.c.uid)
        )
        return (await self.conn.execute(statement)).first() is not None
