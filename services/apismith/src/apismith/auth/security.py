"""APISmith's view of the shared password and token functions (``bridge_core.auth``).

Tokens are issued and checked by ``bridge_core.auth.tokens``; this module pins the
roles APISmith accepts, so a token's role is always an APISmith :data:`Role`.
"""

from typing import cast, get_args

from apismith.auth.principal import Role
from apismith.settings import Settings
from bridge_core.auth.passwords import (
    hash_password,
    password_needs_rehash,
    verify_decoy_password,
    verify_password,
)
from bridge_core.auth.tokens import (
    TokenClaims,
    issue_access_token,
    issue_refresh_token,
    issue_service_token,
)
from bridge_core.auth.tokens import decode_token as _decode_token

__all__ = [
    "ROLES",
    "TokenClaims",
    "claims_role",
    "decode_token",
    "hash_password",
    "issue_access_token",
    "issue_refresh_token",
    "issue_service_token",
    "password_needs_rehash",
    "verify_decoy_password",
    "verify_password",
]

ROLES: tuple[str, ...] = get_args(Role)


def decode_token(token: str, *, settings: Settings) -> TokenClaims:
    """Verify a token and that its role is an APISmith role; ``Unauthorized`` saying what failed."""
    return _decode_token(token, settings=settings, roles=ROLES)


def claims_role(claims: TokenClaims) -> Role:
    """The role of claims that :func:`decode_token` verified."""
    return cast(Role, claims.role)
