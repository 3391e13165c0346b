"""Auth logic of service tokens: issue, list, revoke, check (users: ``bridge_core.auth.users``)."""

import uuid
from datetime import UTC, datetime, timedelta

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.auth.principal import Principal, Role
from apismith.auth.repository import ServiceTokenRepository
from apismith.auth.schemas import ServiceTokenCreated, ServiceTokenOut
from apismith.auth.security import TokenClaims, issue_service_token
from apismith.settings import Settings
from bridge_core.crypto import hash_token
from bridge_core.errors import NotFound, Unauthorized
from bridge_core.ids import new_id

# last_used_at is informational: writing it at most once a minute keeps token checks read-mostly
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def create_service_token(
    *,
    conn: AsyncConnection,
    settings: Settings,
    name: str,
    role: Role,
    created_by: Principal | None,
) -> ServiceTokenCreated:
    """Issue a service token; only its hash is stored, the value is returned this once."""
    uid = new_id()
    token = issue_service_token(settings=settings, token_uid=uid, name=name, role=role)
    creator = created_by.uid if created_by is not None and created_by.kind == "user" else None
    await ServiceTokenRepository(conn).insert(
        uid=uid,
        name=name,
        role=role,
        token_hash=hash_token(token),
        created_by=creator,
        now=datetime.now(UTC),
    )
    by = created_by.name if created_by is not None else "the command line"
    logger.info("service token {} ({!r}, role {}) created by {}", uid, name, role, by)
    return ServiceTokenCreated(uid=uid, name=name, role=role, token=token)


async def list_service_tokens(*, conn: AsyncConnection) -> list[ServiceTokenOut]:
    """Every service token, oldest first, without values or hashes."""
    rows = await ServiceTokenRepository(conn).list()
    return [ServiceTokenOut.model_validate(dict(row)) for row in rows]


async def revoke_service_token(*, conn: AsyncConnection, uid: uuid.UUID) -> None:
    """Revoke a service token (idempotent); 404 when it does not exist."""
    if not await ServiceTokenRepository(conn).revoke(uid, datetime.now(UTC)):
        raise NotFound(f"service token {uid} not found")
    logger.info("service token {} revoked", uid)


async def authenticate_service_token(
    *, conn: AsyncConnection, claims: TokenClaims, token_hash: str
) -> Principal:
    """The principal of a signature-verified service token (by the hash of its text)
    that is stored and not revoked."""
    tokens = ServiceTokenRepository(conn)
    row = await tokens.get_by_hash(token_hash)
    if row is None or str(row["uid"]) != claims.jti:
        raise Unauthorized("unknown service token")
    if row["revoked_at"] is not None:
        raise Unauthorized("token revoked")
    now = datetime.now(UTC)
    await tokens.mark_used(row["uid"], now, not_since=now - LAST_USED_RESOLUTION)
    return Principal(uid=row["uid"], name=row["name"], role=row["role"], kind="token")
