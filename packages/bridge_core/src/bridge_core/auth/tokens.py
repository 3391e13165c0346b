"""Signed tokens (JWT, HS256 with the service's ``secret_key``).

Three kinds of token share one format and differ by the ``typ`` claim:

- ``access``: a logged-in user's bearer token, valid ``access_token_minutes``;
- ``refresh``: exchanged at ``/auth/refresh`` for a new access token, valid
  ``refresh_token_days``; never accepted as a bearer token;
- ``service``: a long-lived service token without ``exp``; its ``jti`` is the
  stored token row it must match (so it can be revoked).

Every token carries ``sub`` (the user's or service token's uid), ``name``, ``role``,
``typ``, ``iat`` and ``jti``. Decoding pins the algorithm to HS256, so ``alg: none``
and tokens signed with any other key are rejected before anything else looks at them.
A role outside the service's own set is refused too, so a token of one service is
never read with a role of another.
"""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import jwt

from bridge_core.errors import Unauthorized
from bridge_core.settings import ServiceSettings

__all__ = [
    "TokenClaims",
    "TokenType",
    "decode_token",
    "issue_access_token",
    "issue_refresh_token",
    "issue_service_token",
]

TokenType = Literal["access", "refresh", "service"]

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["sub", "name", "role", "typ", "iat", "jti"]


@dataclass(frozen=True)
class TokenClaims:
    """The verified claims of a token; ``role`` is one of the decoding service's roles."""

    subject: uuid.UUID
    name: str
    role: str
    typ: TokenType
    jti: str
    issued_at: datetime
    expires_at: datetime | None


def _issue(
    settings: ServiceSettings,
    *,
    subject: uuid.UUID,
    name: str,
    role: str,
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
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)


def issue_access_token(
    *, settings: ServiceSettings, user_uid: uuid.UUID, name: str, role: str
) -> str:
    """A bearer token for a logged-in user, valid ``settings.access_token_minutes``."""
    expires_at = datetime.now(UTC) + timedelta(minutes=settings.access_token_minutes)
    return _issue(
        settings, subject=user_uid, name=name, role=role, typ="access", expires_at=expires_at
    )


def issue_refresh_token(
    *,
    settings: ServiceSettings,
    user_uid: uuid.UUID,
    name: str,
    role: str,
    expires_at: datetime | None = None,
) -> str:
    """A token that buys new access tokens, valid ``settings.refresh_token_days`` by default."""
    expires_at = expires_at or datetime.now(UTC) + timedelta(days=settings.refresh_token_days)
    return _issue(
        settings, subject=user_uid, name=name, role=role, typ="refresh", expires_at=expires_at
    )


def issue_service_token(
    *, settings: ServiceSettings, token_uid: uuid.UUID, name: str, role: str
) -> str:
    """A long-lived service token (no expiry) bound to the stored token row ``token_uid``."""
    return _issue(
        settings,
        subject=token_uid,
        name=name,
        role=role,
        typ="service",
        expires_at=None,
        jti=token_uid,
    )


def decode_token(token: str, *, settings: ServiceSettings, roles: Collection[str]) -> TokenClaims:
    """Verify signature, algorithm, expiry, claims and role; raise ``Unauthorized`` saying what."""
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
    if typ not in get_args(TokenType) or role not in roles:
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
        role=str(role),
        typ=typ,
        jti=str(payload["jti"]),
        issued_at=datetime.fromtimestamp(payload["iat"], UTC),
        expires_at=datetime.fromtimestamp(expires, UTC) if expires is not None else None,
    )
