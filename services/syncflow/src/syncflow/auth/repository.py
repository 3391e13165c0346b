"""All SQL of the auth feature: the ``operator_tokens`` table (users are in bridge_core)."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import RowMapping, func, insert, select, update

from bridge_core.db.repository import Repository
from syncflow.tables import operator_tokens

_COLUMNS = (
    operator_tokens.c.uid,
    operator_tokens.c.name,
    operator_tokens.c.created_at,
    operator_tokens.c.revoked_at,
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
