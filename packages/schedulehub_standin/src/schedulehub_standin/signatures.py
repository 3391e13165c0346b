"""Standard Webhooks signatures (https://www.standardwebhooks.com), version ``v1``.

A secret is ``whsec_`` followed by the base64 of the key. The signed content is
``{webhook-id}.{webhook-timestamp}.{body}``; the signature is the base64 of its
HMAC-SHA256 under the key, sent as ``v1,<signature>``. ``webhook-signature`` may carry
several, space separated (one per active secret, for rotation): one match is enough.
"""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from bridge_core.errors import BadRequest, Unauthorized

SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc


def signature(secret: str, *, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one webhook under ``secret``."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: Sequence[str],
    tolerance_seconds: int,
) -> str:
    """The ``webhook-id`` of a webhook whose signature one of ``secrets`` makes.

    400 when a header is missing or the timestamp is not a number; 401 when the
    timestamp is too far from now or no signature matches.
    """
    webhook_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        raise BadRequest("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise BadRequest("webhook-timestamp must be whole seconds since the epoch") from exc
    if abs(time.time() - sent_at) > tolerance_seconds:
        raise Unauthorized("webhook-timestamp too far from now")
    offered = {
        candidate.split(",", 1)[1]
        for candidate in signatures.split()
        if candidate.startswith("v1,")
    }
    for secret in secrets:
        expected = signature(secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
        if any(hmac.compare_digest(expected[3:].encode(), sig.encode()) for sig in offered):
            return webhook_id
    raise Unauthorized("no valid webhook signature")
