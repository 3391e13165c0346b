"""Password hashing (argon2id) and signed tokens (JWT, HS256 with ``settings.secret_key``).

Three kinds of token share one format and differ by the ``typ`` claim:

- ``access``: a logged-in user's bearer token, valid ``access_token_minutes``;
- ``refresh``: exchanged at ``/auth/refresh`` for a new access token, valid
  ``refresh_token_days``; never accepted as a bearer token;
- ``service``: a long-lived service token without ``exp``; its ``jti`` is the
  ``service_tokens`` row it must match (so it can be revoked).

Every token carries ``sub`` (the user's or service token's uid), ``name``, ``role``,
``typ``, ``iat`` and ``jti``. Decoding pins the algorithm to HS256, so ``alg: none``
and tokens signed with any other key are rejected before anything else looks at them.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal, get_args

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from apismith.auth.principal import Role
from apismith.settings import Settings
from bridge_core.errors import Unauthorized

TokenType = Literal["access", "refresh", "service"]

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["sub", "name", "role", "typ", "iat", "jti"]

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@dataclass(frozen=True)
class TokenClaims:
    """The verified claims of a token."""

    subject: uuid.UUID
    name: str
    role: Role
    typ: TokenType
    jti: str
    issued_at: datetime
    expires_at: datetime | None


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt included) under which a password is stored."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def _decoy_hash() -> str:
    return _hasher.hash(uuid.uuid4().hex)


def verify_decoy_password(password: str) -> bool:
    """Spend the time of a real check on an unknown user, so timing does not reveal it; False."""
    verify_password(_decoy_hash(), password)
    return False


def _encode(settings: Settings, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)


def _issue(
    settings: Settings,
    *,
    subject: uuid.UUID,
    name: str,
    role: Role,
    typ: TokenType,
    expires_at: datetime | None,
    jti: uuid.UUID | None = None,
) -> str:
    claims: dict[str, Any] = {
        "sub": str(subject),
        "name": name,
        "role": role,
        "typ": typ,
        "iat": datetime.now(UTC),
        "jti": str(jti or uuid.uuid4()),
    }
    if expires_at is not None:
        claims["exp"] = expires_at
    return _encode(settings, claims)


def issue_access_token(*, settings: Settings, user_uid: uuid.UUID, name: str, role: Role) -> str:
    """A bearer token for a logged-in user, valid ``settings.access_token_minutes``."""
    expires_at = datetime.now(UTC) + timedelta(minutes=settings.access_token_minutes)
    return _issue(
        settings, subject=user_uid, name=name, role=role, typ="access", expires_at=expires_at
    )


def issue_refresh_token(
    *,
    settings: Settings,
    user_uid: uuid.UUID,
    name: str,
    role: Role,
    expires_at: datetime | None = None,
) -> str:
    """A token that buys new access tokens, valid ``settings.refresh_token_days`` by default."""
    expires_at = expires_at or datetime.now(UTC) + timedelta(days=settings.refresh_token_days)
    return _issue(
        settings, subject=user_uid, name=name, role=role, typ="refresh", expires_at=expires_at
    )


def issue_service_token(*, settings: Settings, token_uid: uuid.UUID, name: str, role: Role) -> str:
    """A long-lived service token (no expiry) bound to the ``service_tokens`` row ``token_uid``."""
    return _issue(
        settings,
        subject=token_uid,
        name=name,
        role=role,
        typ="service",
        expires_at=None,
        jti=token_uid,
    )


def decode_token(token: str, *, settings: Settings) -> TokenClaims:
    """Verify signature, algorithm, expiry and claims; raise ``Unauthorized`` saying what failed."""
    try:
        payload = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("invalid token") from exc
    typ, role = payload["typ"], payload["role"]
    if typ not in get_args(TokenType) or role not in get_args(Role):
        raise Unauthorized("invalid token")
    expires = payload.get("exp")
    if (expires is None) != (typ == "service"):
        # a user token must expire and a service token must not: anything else was not issued here
        raise Unauthorized("invalid token")
    try:
        subject = uuid.UUID(payload["sub"])
    except (TypeError, ValueError) as exc:
        raise Unauthorized("invalid token") from exc
    return TokenClaims(
        subject=subject,
        name=str(payload["name"]),
        role=role,
        typ=typ,
        jti=str(payload["jti"]),
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(expires, UTC) if expires is not None else None,
    )
