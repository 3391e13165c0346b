"""All SQL of the auth feature: the ``users`` and ``service_tokens`` tables."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert

from apismith.auth.principal import Role
from apismith.tables import service_tokens, users
from bridge_core.db.repository import Repository
from bridge_core.ids import new_id

_USER_COLUMNS = (users.c.uid, users.c.username, users.c.role, users.c.is_active, users.c.created_at)


class UserRepository(Repository):
    """Users and their password hashes."""

    async def insert(
        self, *, username: str, password_hash: str, role: Role, now: datetime
    ) -> RowMapping | None:
        """Insert a user; ``None`` when the username is taken."""
        statement = (
            insert(users)
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
        """The user with its ``password_hash`` (for login only)."""
        statement = select(*_USER_COLUMNS, users.c.password_hash).where(
            users.c.username == username
        )
        return (await self.conn.execute(statement)).mappings().first()

    async def get(self, uid: uuid.UUID) -> RowMapping | None:
        statement = select(*_USER_COLUMNS).where(users.c.uid == uid)
        return (await self.conn.execute(statement)).mappings().first()

    async def list(self) -> Sequence[RowMapping]:
        statement = select(*_USER_COLUMNS).order_by(users.c.username)
        return (await self.conn.execute(statement)).mappings().all()

    async def set_password_hash(self, uid: uuid.UUID, password_hash: str, now: datetime) -> None:
        await self.conn.execute(
            update(users)
            .where(users.c.uid == uid)
            .values(password_hash=password_hash, updated_at=now)
        )


_TOKEN_COLUMNS = (
    service_tokens.c.uid,
    service_tokens.c.name,
    service_tokens.c.role,
    service_tokens.c.created_by,
    service_tokens.c.created_at,
    service_tokens.c.last_used_at,
    service_tokens.c.revoked_at,
)


class ServiceTokenRepository(Repository):
    """Service tokens, stored only as hashes of their values."""

    async def insert(
        self,
        *,
        uid: uuid.UUID,
        name: str,
        role: Role,
        token_hash: str,
        created_by: uuid.UUID | None,
        now: datetime,
    ) -> RowMapping:
        statement = (
            insert(service_tokens)
            .values(
                uid=uid,
                name=name,
                role=role,
                token_hash=token_hash,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            .returning(*_TOKEN_COLUMNS)
        )
        return (await self.conn.execute(statement)).mappings().one()

    async def get_by_hash(self, token_hash: str) -> RowMapping | None:
        statement = select(*_TOKEN_COLUMNS).where(service_tokens.c.token_hash == token_hash)
        return (await self.conn.execute(statement)).mappings().first()

    async def list(self) -> Sequence[RowMapping]:
        statement = select(*_TOKEN_COLUMNS).order_by(service_tokens.c.created_at)
        return (await self.conn.execute(statement)).mappings().all()

    async def revoke(self, uid: uuid.UUID, now: datetime) -> bool:
        """Mark a token revoked (a first revocation time is kept); False when it does not exist."""
        statement = (
            update(service_tokens)
            .where(service_tokens.c.uid == uid)
            .values(revoked_at=func.coalesce(service_tokens.c.revoked_at, now), updated_at=now)
            .returning(service_tokens.c.uid)
        )
        return (await self.conn.execute(statement)).first() is not None

    async def mark_used(self, uid: uuid.UUID, now: datetime, *, not_since: datetime) -> None:
        """Record a use, at most once per interval (``not_since``) to keep reads cheap."""
        await self.conn.execute(
            update(service_tokens)
            .where(
                service_tokens.c.uid == uid,
                (service_tokens.c.last_used_at.is_(None))
                | (service_tokens.c.last_used_at < not_since),
            )
            .values(last_used_at=now)
        )
