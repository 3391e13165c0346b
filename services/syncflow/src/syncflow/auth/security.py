"""The operator token format: self-verifying, so garbage is refused before any database work.

    sf_<uid hex>.<secret>.<mac>

``uid`` names the ``operator_tokens`` row, ``secret`` is 24 random bytes and ``mac`` the
HMAC-SHA256 of ``sf_<uid hex>.<secret>`` under the service's ``secret_key`` (both
base64url, unpadded). A token whose MAC does not verify is refused on the spot; one that
verifies is then looked up by its SHA-256 hash. The random part is known only to the
token's holder, so a leaked ``secret_key`` alone cannot mint a token that passes the
lookup. Changing ``secret_key`` invalidates every operator token.
"""

import base64
import hashlib
import hmac
import re
import secrets
from uuid import UUID

PREFIX = "sf"
_MAC_LABEL = b"syncflow-operator-token:"
_SECRET_BYTES = 24
_TOKEN = re.compile(
    rf"^{PREFIX}_(?P<uid>[0-9a-f]{{32}})"
    r"\.(?P<secret>[A-Za-z0-9_-]{32})"
    r"\.(?P<mac>[A-Za-z0-9_-]{43})$"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(secret_key: str, body: str) -> str:
    return _b64(hmac.new(secret_key.encode(), _MAC_LABEL + body.encode(), hashlib.sha256).digest())


def issue_operator_token(*, secret_key: str, uid: UUID) -> str:
    """A new operator token bound to the ``operator_tokens`` row ``uid``."""
    body = f"{PREFIX}_{uid.hex}.{_b64(secrets.token_bytes(_SECRET_BYTES))}"
    return f"{body}.{_mac(secret_key, body)}"


def verified_token_uid(*, secret_key: str, token: str) -> UUID | None:
    """The row uid of a well-formed token whose MAC verifies, else ``None``."""
    match = _TOKEN.match(token)
    if match is None:
        return None
    body = token[: match.start("mac") - 1]
    if not hmac.compare_digest(_mac(secret_key, body), match["mac"]):
        return None
    return UUID(hex=match["uid"])


def is_admin_token(*, admin_token: str | None, token: str) -> bool:
    """Whether ``token`` is the configured admin token (constant-time comparison)."""
    if not admin_token:
        return False
    return hmac.compare_digest(admin_token.encode(), token.encode())
