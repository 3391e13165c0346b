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

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from apismith.auth import service
from apismith.auth.principal import Principal
from apismith.auth.security import ROLES, claims_role
from apismith.auth.token_cache import get_token_cache
from apismith.settings import Settings
from bridge_core.auth.dependencies import bearer_claims, settings_dependency
from bridge_core.crypto import hash_token
from bridge_core.db.transaction import get_database
from bridge_core.errors import Forbidden, Unauthorized
from bridge_core.http.bearer import bearer_token, unauthorized
from bridge_core.http.throttle import sign_in_throttle

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


async def authenticate(
    request: Request,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind the ``Authorization: Bearer`` header, or 401 saying what is wrong
    (429 for an address that has sent too many bad tokens)."""
    token = bearer_token(request, credentials)
    throttle = sign_in_throttle(request)
    throttle.check_bearer(request)
    cache = await get_token_cache(request)
    token_hash = hash_token(token)
    known = cache.get(token_hash)  # a service token this process verified seconds ago
    if known is not None:
        return known
    try:
        claims = bearer_claims(token, settings=settings, roles=ROLES)
    except HTTPException as exc:
        raise throttle.bad_bearer(request, exc) from exc
    if claims.typ == "access":
        return Principal(
            uid=claims.subject, name=claims.name, role=claims_role(claims), kind="user"
        )
    try:
        async with get_database(request).transaction() as conn:
            principal = await service.authenticate_service_token(
                conn=conn, claims=claims, token_hash=token_hash
            )
    except Unauthorized as exc:
        raise throttle.bad_bearer(request, unauthorized(exc.detail)) from exc
    # never trusted past its own expiry
    life = (
        None
        if claims.expires_at is None
        else (claims.expires_at - datetime.now(UTC)).total_seconds()
    )
    cache.put(token_hash, principal, ttl=life)
    return principal


async def require_reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """Any authenticated principal (``reader`` or ``admin``)."""
    return principal


async def require_admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """An authenticated principal with the ``admin`` role, else 403."""
    if not principal.is_admin:
        raise Forbidden("admin role required")
    return principal


Reader = Annotated[Principal, Depends(require_reader)]
Admin = Annotated[Principal, Depends(require_admin)]
