"""The openings of both services' auth dependencies: their settings, and a bearer JWT's claims.

A service builds its dependencies from these::

    get_settings = settings_dependency(Settings)
    AppSettings = Annotated[Settings, Depends(get_settings)]

and, in its ``authenticate`` dependency, ``bearer_claims(...)`` turns the token of the
``Authorization`` header (``bridge_core.http.bearer.bearer_token``) into verified claims
of an access or service token (a refresh token is refused with a 401 that says where
it belongs). What the service
then does with the claims (look up a service token, build its principal) is its own.
"""

from collections.abc import Awaitable, Callable, Collection

from fastapi import Request

from bridge_core.auth.tokens import TokenClaims, decode_token
from bridge_core.errors import Unauthorized
from bridge_core.http.bearer import unauthorized
from bridge_core.settings import ServiceSettings

__all__ = ["bearer_claims", "settings_dependency"]


def settings_dependency[S: ServiceSettings](
    settings_type: type[S],
) -> Callable[[Request], Awaitable[S]]:
    """A dependency returning the app's settings (set on ``app.state`` by the lifespan)."""

    async def get_settings(request: Request) -> S:
        settings = request.app.state.settings
        if not isinstance(settings, settings_type):
            raise TypeError(f"app.state.settings is not {settings_type.__name__}")
        return settings

    return get_settings


def bearer_claims(token: str, *, settings: ServiceSettings, roles: Collection[str]) -> TokenClaims:
    """The verified claims of a bearer token (an access or service token), or a 401."""
    try:
        claims = decode_token(token, settings=settings, roles=roles)
    except Unauthorized as exc:
        raise unauthorized(exc.detail) from exc
    if claims.typ == "refresh":
        raise unauthorized("a refresh token is not a bearer token: use it at /auth/refresh")
    return claims
