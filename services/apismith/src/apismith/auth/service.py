"""Auth logic: users, login and refresh, service tokens, the first admin.

Password hashing and checks run in a worker thread: argon2 is deliberately slow
and would otherwise stall every other request on the event loop.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from apismith.auth.principal import Principal, Role
from apismith.auth.repository import ServiceTokenRepository, UserRepository
from apismith.auth.schemas import (
    MIN_PASSWORD_LENGTH,
    ServiceTokenCreated,
    ServiceTokenOut,
    TokenPair,
    UserOut,
)
from apismith.auth.security import (
    TokenClaims,
    hash_password,
    issue_access_token,
    issue_refresh_token,
    issue_service_token,
    password_needs_rehash,
    verify_decoy_password,
    verify_password,
)
from apismith.settings import Settings
from bridge_core.crypto import hash_token
from bridge_core.errors import Conflict, NotFound, Unauthorized, Unprocessable
from bridge_core.ids import new_id

INVALID_CREDENTIALS = "invalid username or password"
# last_used_at is informational: writing it at most once a minute keeps token checks read-mostly
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Unprocessable(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


async def create_user(
    *, conn: AsyncConnection, username: str, password: str, role: Role
) -> UserOut:
    """Create a user with an argon2id password hash; 409 when the username is taken."""
    _check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    row = await UserRepository(conn).insert(
        username=username, password_hash=password_hash, role=role, now=datetime.now(UTC)
    )
    if row is None:
        raise Conflict(f"username {username!r} is already taken")
    logger.info("user {} created with role {}", username, role)
    return UserOut.model_validate(dict(row))


async def list_users(*, conn: AsyncConnection) -> list[UserOut]:
    """Every user, by username (without password hashes)."""
    return [UserOut.model_validate(dict(row)) for row in await UserRepository(conn).list()]


async def ensure_first_admin(*, conn: AsyncConnection, username: str, password: str) -> bool:
    """Create admin ``username`` when no user exists yet; True when it was created."""
    if await UserRepository(conn).any_exists():
        return False
    try:
        await create_user(conn=conn, username=username, password=password, role="admin")
    except Conflict:  # another process starting at the same time created it
        return False
    logger.info("first admin {} created from settings", username)
    return True


def _token_pair(
    settings: Settings,
    *,
    user_uid: uuid.UUID,
    username: str,
    role: Role,
    refresh_expires_at: datetime | None = None,
) -> TokenPair:
    return TokenPair(
        access_token=issue_access_token(
            settings=settings, user_uid=user_uid, name=username, role=role
        ),
        refresh_token=issue_refresh_token(
            settings=settings,
            user_uid=user_uid,
            name=username,
            role=role,
            expires_at=refresh_expires_at,
        ),
        expires_in=settings.access_token_minutes * 60,
    )


async def login(
    *, conn: AsyncConnection, settings: Settings, username: str, password: str
) -> TokenPair:
    """Check a username and password; return access and refresh tokens or 401."""
    users = UserRepository(conn)
    row = await users.get_credentials(username)
    if row is None:
        await asyncio.to_thread(verify_decoy_password, password)
        valid = False
    else:
        matches = await asyncio.to_thread(verify_password, row["password_hash"], password)
        valid = matches and row["is_active"]
    if row is None or not valid:
        logger.warning("failed login for username {!r}", username)
        raise Unauthorized(INVALID_CREDENTIALS)
    if password_needs_rehash(row["password_hash"]):
        new_hash = await asyncio.to_thread(hash_password, password)
        await users.set_password_hash(row["uid"], new_hash, datetime.now(UTC))
    logger.info("user {} logged in", username)
    return _token_pair(settings, user_uid=row["uid"], username=row["username"], role=row["role"])


async def refresh(*, conn: AsyncConnection, settings: Settings, claims: TokenClaims) -> TokenPair:
    """A new access token for a verified refresh token whose user still exists and is active.

    The refresh token handed back keeps the original expiry, so a session ends
    ``refresh_token_days`` after login however often it is refreshed. The role is
    read again, so a role change takes effect at the next refresh.
    """
    row = await UserRepository(conn).get(claims.subject)
    if row is None or not row["is_active"]:
        raise Unauthorized("user no longer exists or is disabled")
    return _token_pair(
        settings,
        user_uid=row["uid"],
        username=row["username"],
        role=row["role"],
        refresh_expires_at=claims.expires_at,
    )


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
