"""Request dependencies that authenticate the caller and check its role.

Use the aliases in routers, with the principal BEFORE the connection so the caller
is authenticated before the request's transaction takes a database connection::

    @router.get("/apis")
    async def list_apis(principal: Reader, conn: Connection) -> ...

or, when the handler does not need the principal,
``@router.delete(..., dependencies=[Depends(require_admin)])``.

Access tokens are checked by signature and expiry alone (no database). A service
token is checked by signature first, so a forged or garbage token never reaches
the database; only then is its hash looked up, in a short transaction of its own.
A 401 names what was wrong (missing, malformed, expired, invalid, revoked) and
carries ``WWW-Authenticate: Bearer``; a 403 means "authenticated, wrong role".
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from apismith.auth import service
from apismith.auth.principal import Principal
from apismith.auth.security import ROLES, claims_role
from apismith.auth.token_cache import get_token_cache
from apismith.settings import Settings
from bridge_core.auth.dependencies import (
    admin_only,
    bearer_authentication,
    bearer_claims,
    settings_dependency,
)
from bridge_core.crypto import hash_token
from bridge_core.db.transaction import get_database

__all__ = [
    "Admin",
    "AppSettings",
    "Principal",
    "Reader",
    "get_settings",
    "require_admin",
    "require_reader",
]

_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An access token from /auth/login or a service token from /auth/tokens.",
)


get_settings = settings_dependency(Settings)


AppSettings = Annotated[Settings, Depends(get_settings)]


async def principal_of_token(request: Request, settings: Settings, token: str) -> Principal:
    """The principal behind an access or service token, or ``Unauthorized`` saying what is
    wrong; a service token is looked up once and then kept a few seconds (``TokenCache``),
    asked before the token's signature is checked again."""
    cache = await get_token_cache(request)
    token_hash = hash_token(token)
    known = cache.get(token_hash)  # a service token this process verified seconds ago
    if known is not None:
        return known
    claims = bearer_claims(token, settings=settings, roles=ROLES)
    if claims.typ == "access":
        return Principal(
            uid=claims.subject, name=claims.name, role=claims_role(claims), kind="user"
        )
    async with get_database(request).transaction() as conn:
        principal = await service.authenticate_service_token(
            conn=conn, claims=claims, token_hash=token_hash
        )
    # never trusted past its own expiry
    life = (
        None
        if claims.expires_at is None
        else (claims.expires_at - datetime.now(UTC)).total_seconds()
    )
    cache.put(token_hash, principal, ttl=life)
    return principal


# the caller behind the ``Authorization: Bearer`` header, or 401 saying what is wrong
# (429 for an address that has sent too many bad tokens)
authenticate = bearer_authentication(_bearer, get_settings, principal_of_token)


async def require_reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """Any authenticated principal (``reader`` or ``admin``)."""
    return principal


async def require_admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """An authenticated principal with the ``admin`` role, else 403."""
    return admin_only(principal)


Reader = Annotated[Principal, Depends(require_reader)]
Admin = Annotated[Principal, Depends(require_admin)]
