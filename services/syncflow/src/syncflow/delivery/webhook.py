"""Signed webhook calls (Standard Webhooks, https://www.standardwebhooks.com).

Each request carries ``webhook-id`` (the batch's uid: the same on every retry, so the
receiver can drop a repeat), ``webhook-timestamp`` (seconds, at this attempt) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` for every
active secret, separated by spaces, so a receiver holding either secret accepts it
while a secret is rotated.
"""

import base64
import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from syncflow.delivery.transport import Transport, unauthorized

SECRET_PREFIX = "whsec_"


def signature(secrets: list[str], *, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,`` signature per secret."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    parts = []
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
        digest = hmac.new(key, signed, hashlib.sha256).digest()
        parts.append("v1," + base64.b64encode(digest).decode())
    return " ".join(parts)


class WebhookClient:
    """One webhook destination: its URL, secrets and timeout."""

    def __init__(
        self,
        url: str,
        *,
        secrets: list[str],
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.secrets = secrets
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), transport=transport
        )
        self.transport = Transport(self.http)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(self, *, message_id: str, payload: dict[str, Any]) -> None:
        """POST one signed message; a 401 (the receiver refused the signature) is final."""
        body = orjson.dumps(payload)
        timestamp = int(time.time())
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(
                self.secrets, message_id=message_id, timestamp=timestamp, body=body
            ),
        }
        response = await self.transport.send("POST", self.url, content=body, headers=headers)
        if response.status_code == 401:
            raise unauthorized(response, f"POST {self.url}")
