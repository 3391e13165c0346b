"""Request dependencies that authenticate the caller and check its role.

Put the alias BEFORE the connection in a handler's signature, so the caller is
authenticated before the request's transaction takes a database connection::

    @router.get("/entities")
    async def list_entities(_: Operator, conn: Connection) -> ...

Three kinds of bearer token are accepted: ``SYNCFLOW_ADMIN_TOKEN`` (compared in
constant time, no database; role ``admin``), an operator token (``sf_...``, checked
by its MAC before its hash is looked up in a short transaction of its own; role
``operator``), and a user's access JWT from ``/auth/login`` (signature and expiry
alone; the user's role). A 401 says what was wrong (missing, malformed, invalid,
expired, unknown, revoked) and carries ``WWW-Authenticate: Bearer``.

``Operator`` lets every role read and refuses a ``viewer`` anything but ``GET``:
a viewer sees everything and changes nothing. ``Admin`` is for user management.
"""

from typing import Annotated, cast, get_args

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from loguru import logger
from sqlalchemy.exc import SQLAlchemyError

from bridge_core.auth.dependencies import admin_only, bearer_authentication, settings_dependency
from bridge_core.auth.tokens import decode_token
from bridge_core.db.transaction import get_database
from bridge_core.errors import Forbidden, ServiceUnavailable, Unauthorized
from syncflow.auth import service
from syncflow.auth.principal import ADMIN_TOKEN_NAME, Principal, Role
from syncflow.auth.security import PREFIX, is_admin_token, verified_token_uid
from syncflow.settings import Settings

__all__ = [
    "Admin",
    "AppSettings",
    "Operator",
    "Principal",
    "authenticate",
    "get_settings",
    "principal_of_token",
]

ROLES: tuple[str, ...] = get_args(Role)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    description="An access token from /auth/login, an operator token from "
    "`syncflow tokens create` or POST /tokens, or SYNCFLOW_ADMIN_TOKEN.",
)

get_settings = settings_dependency(Settings)
AppSettings = Annotated[Settings, Depends(get_settings)]


async def principal_of_token(request: Request, settings: Settings, token: str) -> Principal:
    """The principal behind any accepted bearer token, or ``Unauthorized`` saying what is wrong."""
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    if is_admin_token(admin_token=admin_token, token=token):
        return Principal(uid=None, name=ADMIN_TOKEN_NAME, role="admin", kind="admin-token")
    if token.startswith(f"{PREFIX}_"):
        uid = verified_token_uid(secret_key=settings.secret_key.get_secret_value(), token=token)
        if uid is None:
            raise Unauthorized("invalid token")
        try:
            async with get_database(request).transaction() as conn:
                return await service.authenticate_token(conn, uid=uid, token=token)
        except (OSError, SQLAlchemyError) as exc:
            logger.warning("operator token check failed: {}", type(exc).__name__)
            raise ServiceUnavailable("database unreachable: the token cannot be checked") from exc
    claims = decode_token(token, settings=settings, roles=ROLES)
    if claims.typ != "access":
        raise Unauthorized("a refresh token is not a bearer token: use it at /auth/refresh")
    return Principal(
        uid=claims.subject, name=claims.name, role=cast(Role, claims.role), kind="user"
    )


# the caller behind the ``Authorization: Bearer`` header, or 401 saying what is wrong
# (429 for an address that has sent too many bad tokens)
authenticate = bearer_authentication(_bearer, get_settings, principal_of_token)


async def require_change_rights(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    """Any principal for reads; for anything else, a role that may change things (not viewer)."""
    if request.method not in READ_METHODS and not principal.can_change:
        raise Forbidden("the viewer role can only read")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """A principal with the ``admin`` role, else 403."""
    return admin_only(principal)


Operator = Annotated[Principal, Depends(require_change_rights)]
Admin = Annotated[Principal, Depends(require_admin)]
