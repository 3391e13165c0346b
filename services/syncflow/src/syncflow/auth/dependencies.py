"""Request dependencies that authenticate the operator.

Put the ``Operator`` alias BEFORE the connection in a handler's signature, so the
caller is authenticated before the request's transaction takes a database connection::

    @router.get("/entities")
    async def list_entities(_: Operator, conn: Connection) -> ...

The admin token is compared in constant time and needs no database. An operator
token is checked by its MAC first, so a forged or garbage token never reaches the
database; only then is its hash looked up, in a short transaction of its own. A 401
says what was wrong (missing, malformed, invalid, unknown, revoked) and carries
``WWW-Authenticate: Bearer``.
"""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from loguru import logger
from sqlalchemy.exc import SQLAlchemyError

from bridge_core.db.transaction import get_database
from bridge_core.errors import ServiceUnavailable, Unauthorized
from bridge_core.http.bearer import bearer_token, unauthorized
from bridge_core.http.throttle import sign_in_throttle
from syncflow.auth import service
from syncflow.auth.principal import ADMIN_TOKEN_NAME, Principal
from syncflow.auth.security import is_admin_token, verified_token_uid
from syncflow.settings import Settings

__all__ = ["AppSettings", "Operator", "Principal", "authenticate", "get_settings"]

_bearer = HTTPBearer(
    auto_error=False,
    description="An operator token from `syncflow tokens create` or POST /tokens, "
    "or SYNCFLOW_ADMIN_TOKEN.",
)


def get_settings(request: Request) -> Settings:
    """The app's settings, set by the lifespan."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_settings)]


async def authenticate(
    request: Request,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The operator behind the ``Authorization: Bearer`` header, or 401 saying what is wrong."""
    token = bearer_token(request, credentials)
    throttle = sign_in_throttle(request)
    throttle.check_bearer(request)
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    if is_admin_token(admin_token=admin_token, token=token):
        return Principal(uid=None, name=ADMIN_TOKEN_NAME)
    uid = verified_token_uid(secret_key=settings.secret_key.get_secret_value(), token=token)
    if uid is None:
        raise throttle.bad_bearer(request, unauthorized("invalid token"))
    try:
        async with get_database(request).transaction() as conn:
            return await service.authenticate_token(conn, uid=uid, token=token)
    except Unauthorized as exc:
        raise throttle.bad_bearer(request, unauthorized(exc.detail)) from exc
    except (OSError, SQLAlchemyError) as exc:
        logger.warning("operator token check failed: {}", type(exc).__name__)
        raise ServiceUnavailable("database unreachable: the token cannot be checked") from exc


Operator = Annotated[Principal, Depends(authenticate)]
