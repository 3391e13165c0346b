"""Auth logic of operator tokens: issue, list, revoke, check (users: ``bridge_core.auth.users``)."""

from datetime import UTC, datetime
from uuid import UUID

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.crypto import hash_token
from bridge_core.errors import NotFound, Unauthorized
from bridge_core.ids import new_id
from syncflow.auth.principal import Principal
from syncflow.auth.repository import OperatorTokenRepository
from syncflow.auth.schemas import TokenCreated, TokenOut
from syncflow.auth.security import issue_operator_token
from syncflow.settings import Settings


async def create_token(
    conn: AsyncConnection, *, settings: Settings, name: str, created_by: str
) -> TokenCreated:
    """Issue an operator token; only its hash is stored, the value is returned this once."""
    uid = new_id()
    token = issue_operator_token(secret_key=settings.secret_key.get_secret_value(), uid=uid)
    await OperatorTokenRepository(conn).insert(
        uid=uid, name=name, token_hash=hash_token(token), now=datetime.now(UTC)
    )
    logger.info("operator token {} ({!r}) created by {}", uid, name, created_by)
    return TokenCreated(uid=uid, name=name, token=token)


async def list_tokens(conn: AsyncConnection) -> list[TokenOut]:
    """Every operator token, oldest first, without values or hashes."""
    rows = await OperatorTokenRepository(conn).list()
    return [TokenOut.model_validate(dict(row)) for row in rows]


async def revoke_token(conn: AsyncConnection, *, uid: UUID) -> None:
    """Revoke an operator token (idempotent); 404 when it does not exist."""
    if not await OperatorTokenRepository(conn).revoke(uid, datetime.now(UTC)):
        raise NotFound(f"operator token {uid} not found")
    logger.info("operator token {} revoked", uid)


async def authenticate_token(conn: AsyncConnection, *, uid: UUID, token: str) -> Principal:
    """The principal of a MAC-verified token that is stored and not revoked, else 401."""
    row = await OperatorTokenRepository(conn).get_by_hash(hash_token(token))
    if row is None or row["uid"] != uid:
        raise Unauthorized("unknown token")
    if row["revoked_at"] is not None:
        raise Unauthorized("token revoked")
    return Principal(uid=row["uid"], name=row["name"], role="operator", kind="operator-token")
