"""Auth logic: users, sign-in and refresh, the first admin; operator tokens (issue, revoke, check).

Password hashing and checks run in a worker thread: argon2 is deliberately slow and
would otherwise stall every other request on the event loop. Every sign-in attempt,
from the API or the console, ends in :func:`report_login`: the one place that learns
whether a sign-in failed or succeeded (logging now, throttling can hook in there).
"""

import asyncio
from datetime import UTC, datetime
from typing import cast
from uuid import UUID

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.auth.passwords import (
    hash_password,
    password_needs_rehash,
    verify_decoy_password,
    verify_password,
)
from bridge_core.auth.tokens import TokenClaims, issue_access_token, issue_refresh_token
from bridge_core.crypto import hash_token
from bridge_core.errors import Conflict, NotFound, Unauthorized, Unprocessable
from bridge_core.ids import new_id
from syncflow.auth.principal import Principal, Role
from syncflow.auth.repository import OperatorTokenRepository, UserRepository
from syncflow.auth.schemas import MIN_PASSWORD_LENGTH, TokenCreated, TokenOut, TokenPair, UserOut
from syncflow.auth.security import issue_operator_token
from syncflow.settings import Settings

INVALID_CREDENTIALS = "invalid username or password"


def report_login(*, username: str, succeeded: bool) -> None:
    """The single place a sign-in outcome is reported (API login and console sign-in alike)."""
    if succeeded:
        logger.info("user {} signed in", username)
    else:
        logger.warning("failed sign-in for username {!r}", username)


async def create_user(
    *, conn: AsyncConnection, username: str, password: str, role: Role
) -> UserOut:
    """Create a user with an argon2id password hash; 409 when the username is taken."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Unprocessable(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
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


async def verify_credentials(*, conn: AsyncConnection, username: str, password: str) -> Principal:
    """The active user with this username and password, else 401 (not saying which was wrong)."""
    users = UserRepository(conn)
    row = await users.get_credentials(username)
    if row is None:
        await asyncio.to_thread(verify_decoy_password, password)
        valid = False
    else:
        matches = await asyncio.to_thread(verify_password, row["password_hash"], password)
        valid = matches and row["is_active"]
    report_login(username=username, succeeded=row is not None and valid)
    if row is None or not valid:
        raise Unauthorized(INVALID_CREDENTIALS)
    if password_needs_rehash(row["password_hash"]):
        new_hash = await asyncio.to_thread(hash_password, password)
        await users.set_password_hash(row["uid"], new_hash, datetime.now(UTC))
    return Principal(uid=row["uid"], name=row["username"], role=row["role"], kind="user")


def token_pair(
    settings: Settings, *, principal: Principal, refresh_expires_at: datetime | None = None
) -> TokenPair:
    """Access and refresh tokens for a signed-in user."""
    assert principal.uid is not None, "only users get token pairs"
    return TokenPair(
        access_token=issue_access_token(
            settings=settings, user_uid=principal.uid, name=principal.name, role=principal.role
        ),
        refresh_token=issue_refresh_token(
            settings=settings,
            user_uid=principal.uid,
            name=principal.name,
            role=principal.role,
            expires_at=refresh_expires_at,
        ),
        expires_in=settings.access_token_minutes * 60,
    )


async def login(
    *, conn: AsyncConnection, settings: Settings, username: str, password: str
) -> TokenPair:
    """Check a username and password; return access and refresh tokens or 401."""
    principal = await verify_credentials(conn=conn, username=username, password=password)
    return token_pair(settings, principal=principal)


async def refresh(*, conn: AsyncConnection, settings: Settings, claims: TokenClaims) -> TokenPair:
    """A new access token for a verified refresh token whose user still exists and is active.

    The refresh token handed back keeps the original expiry, so a session ends
    ``refresh_token_days`` after sign-in however often it is refreshed; the role is
    read again, so a role change takes effect at the next refresh.
    """
    row = await UserRepository(conn).get(claims.subject)
    if row is None or not row["is_active"]:
        raise Unauthorized("user no longer exists or is disabled")
    principal = Principal(
        uid=row["uid"], name=row["username"], role=cast(Role, row["role"]), kind="user"
    )
    return token_pair(settings, principal=principal, refresh_expires_at=claims.expires_at)


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
