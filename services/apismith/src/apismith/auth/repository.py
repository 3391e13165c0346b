"""All SQL of the auth feature: the ``service_tokens`` table (users are in bridge_core)."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.dialects.postgresql import insert

from apismith.auth.principal import Role
from apismith.tables import service_tokens
from bridge_core.db.repository import Repository

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
