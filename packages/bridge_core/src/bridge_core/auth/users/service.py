"""Users' logic: create and list users, the first admin, sign-in and refresh.

Password hashing and checks run in a worker thread: argon2 is deliberately slow and
would otherwise stall every other request on the event loop. Every sign-in attempt,
from the API or a console, ends in :func:`report_login`: the one place that learns
whether a sign-in failed or succeeded.
"""

import asyncio
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from uuid import UUID

from loguru import logger
from sqlalchemy import RowMapping, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from bridge_core.auth.passwords import (
    hash_password,
    password_needs_rehash,
    verify_decoy_password,
    verify_password,
)
from bridge_core.auth.tokens import TokenClaims, issue_access_token, issue_refresh_token
from bridge_core.auth.users.repository import UserRepository
from bridge_core.auth.users.schemas import MIN_PASSWORD_LENGTH, TokenPair
from bridge_core.db.transaction import Database
from bridge_core.errors import Conflict, Unauthorized, Unprocessable
from bridge_core.settings import ServiceSettings

__all__ = [
    "INVALID_CREDENTIALS",
    "User",
    "create_user",
    "ensure_configured_admin",
    "ensure_first_admin",
    "list_users",
    "login",
    "refresh",
    "report_login",
    "verify_credentials",
]

INVALID_CREDENTIALS = "invalid username or password"


@dataclass(frozen=True)
class User:
    """A user without its password hash; ``role`` is one of its service's roles."""

    uid: UUID
    username: str
    role: str
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, row: RowMapping) -> "User":
        return cls(**{field.name: row[field.name] for field in fields(cls)})


def report_login(*, username: str, succeeded: bool) -> None:
    """The single place a sign-in outcome is reported (API login and console sign-in alike)."""
    if succeeded:
        logger.info("user {} signed in", username)
    else:
        logger.warning("failed sign-in for username {!r}", username)


async def create_user(
    *, conn: AsyncConnection, table: Table, username: str, password: str, role: str
) -> User:
    """Create a user with an argon2id password hash; 409 when the username is taken."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Unprocessable(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    password_hash = await asyncio.to_thread(hash_password, password)
    row = await UserRepository(conn, table).insert(
        username=username, password_hash=password_hash, role=role, now=datetime.now(UTC)
    )
    if row is None:
        raise Conflict(f"username {username!r} is already taken")
    logger.info("user {} created with role {}", username, role)
    return User.of(row)


async def list_users(*, conn: AsyncConnection, table: Table) -> list[User]:
    """Every user, by username (without password hashes)."""
    return [User.of(row) for row in await UserRepository(conn, table).list()]


async def ensure_first_admin(
    *, conn: AsyncConnection, table: Table, username: str, password: str
) -> bool:
    """Create admin ``username`` when no user exists yet; True when it was created."""
    if await UserRepository(conn, table).any_exists():
        return False
    try:
        await create_user(
            conn=conn, table=table, username=username, password=password, role="admin"
        )
    except Conflict:  # another process starting at the same time created it
        return False
    logger.info("first admin {} created from settings", username)
    return True


async def ensure_configured_admin(
    database: Database, *, table: Table, settings: ServiceSettings
) -> None:
    """At a service's start: the first admin of its settings (``admin_username`` and
    ``admin_password``), created when both are set and no user exists yet."""
    if settings.admin_username and settings.admin_password:
        async with database.transaction() as conn:
            await ensure_first_admin(
                conn=conn,
                table=table,
                username=settings.admin_username,
                password=settings.admin_password.get_secret_value(),
            )


async def verify_credentials(
    *, conn: AsyncConnection, table: Table, username: str, password: str
) -> User:
    """The active user with this username and password, else 401 (not saying which was wrong)."""
    users = UserRepository(conn, table)
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
    return User.of(row)


def _token_pair(
    settings: ServiceSettings, *, user: User, refresh_expires_at: datetime | None = None
) -> TokenPair:
    return TokenPair(
        access_token=issue_access_token(
            settings=settings, user_uid=user.uid, name=user.username, role=user.role
        ),
        refresh_token=issue_refresh_token(
            settings=settings,
            user_uid=user.uid,
            name=user.username,
            role=user.role,
            expires_at=refresh_expires_at,
        ),
        expires_in=settings.access_token_minutes * 60,
    )


async def login(
    *, conn: AsyncConnection, table: Table, settings: ServiceSettings, username: str, password: str
) -> TokenPair:
    """Check a username and password; return access and refresh tokens or 401."""
    user = await verify_credentials(conn=conn, table=table, username=username, password=password)
    return _token_pair(settings, user=user)


async def refresh(
    *, conn: AsyncConnection, table: Table, settings: ServiceSettings, claims: TokenClaims
) -> TokenPair:
    """A new access token for a verified refresh token whose user still exists and is active.

    The refresh token handed back keeps the original expiry, so a session ends
    ``refresh_token_days`` after sign-in however often it is refreshed; the role is
    read again, so a role change takes effect at the next refresh.
    """
    row = await UserRepository(conn, table).get(claims.subject)
    if row is None or not row["is_active"]:
        raise Unauthorized("user no longer exists or is disabled")
    return _token_pair(settings, user=User.of(row), refresh_expires_at=claims.expires_at)
