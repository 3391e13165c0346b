"""The openings of both services' auth dependencies: their settings, the throttled bearer
token, a bearer JWT's claims and the admin check.

A service builds its dependencies from these::

    get_settings = settings_dependency(Settings)
    AppSettings = Annotated[Settings, Depends(get_settings)]

and ``authenticate = bearer_authentication(scheme, get_settings, principal_of_token)``
with the service's own ``principal_of_token``: what the service does with a token (look
up a service or operator token, build its principal) is its own, and it raises
``Unauthorized`` for a token it refuses. ``bearer_claims(...)`` turns a token into the
verified claims of an access or service token (a refresh token is refused with a message
that says where it belongs). Its ``require_admin`` passes the principal through
``admin_only``.
"""

from collections.abc import Awaitable, Callable, Collection
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bridge_core.auth.tokens import TokenClaims, decode_token
from bridge_core.errors import Forbidden, Unauthorized
from bridge_core.http.bearer import bearer_token, unauthorized
from bridge_core.http.throttle import sign_in_throttle
from bridge_core.settings import ServiceSettings

__all__ = [
    "AdminCheckable",
    "admin_only",
    "bearer_authentication",
    "bearer_claims",
    "settings_dependency",
]


def settings_dependency[S: ServiceSettings](
    settings_type: type[S],
) -> Callable[[Request], Awaitable[S]]:
    """A dependency returning the app's settings (set on ``app.state`` by the lifespan;
    ``async``, so FastAPI calls it without a hop through its thread pool)."""

    async def get_settings(request: Request) -> S:
        settings = request.app.state.settings
        if not isinstance(settings, settings_type):
            raise TypeError(f"app.state.settings is not {settings_type.__name__}")
        return settings

    return get_settings


def bearer_claims(token: str, *, settings: ServiceSettings, roles: Collection[str]) -> TokenClaims:
    """The verified claims of a bearer token (an access or service token), else
    ``Unauthorized`` saying what is wrong."""
    claims = decode_token(token, settings=settings, roles=roles)
    if claims.typ == "refresh":
        raise Unauthorized("a refresh token is not a bearer token: use it at /auth/refresh")
    return claims


def bearer_authentication[S: ServiceSettings, P](
    scheme: HTTPBearer,
    get_settings: Callable[[Request], Awaitable[S]],
    principal_of_token: Callable[[Request, S, str], Awaitable[P]],
) -> Callable[..., Awaitable[P]]:
    """A service's ``authenticate`` dependency: the principal ``principal_of_token`` finds
    behind the ``Authorization: Bearer`` header (read with ``scheme``, which the OpenAPI
    document shows), or 401 saying what is wrong; each refused token is counted against the
    client's address, and an address that has sent too many gets 429."""

    async def authenticate(
        request: Request,
        settings: Annotated[S, Depends(get_settings)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scheme)],
    ) -> P:
        token = bearer_token(request, credentials)
        throttle = sign_in_throttle(request)
        throttle.check_bearer(request)
        try:
            return await principal_of_token(request, settings, token)
        except Unauthorized as exc:
            raise throttle.bad_bearer(request, unauthorized(exc.detail)) from exc

    return authenticate


class AdminCheckable(Protocol):
    """A service's principal, as far as ``admin_only`` looks at it."""

    @property
    def is_admin(self) -> bool: ...


def admin_only[P: AdminCheckable](principal: P) -> P:
    """``principal`` when it has the ``admin`` role, else 403."""
    if not principal.is_admin:
        raise Forbidden("admin role required")
    return principal
