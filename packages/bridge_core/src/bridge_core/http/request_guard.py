"""Refuses input that no handler should see: bodies over the size limit (413) and text
that PostgreSQL cannot store, NUL characters and lone UTF-16 surrogates (422).

A pure ASGI middleware, so the check costs one scan of the raw bytes and nothing more
on an ordinary request: only a body that holds a ``\\u`` escape is parsed to look closer.
Errors raised from ``receive`` are :class:`BridgeError`s, rendered by the one handler.
"""

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge_core.errors import PayloadTooLarge, Unprocessable

NUL = "\x00"


def _has_unstorable_text(value: Any) -> bool:
    """NUL or a lone surrogate anywhere in a parsed JSON value (keys included)."""
    if isinstance(value, str):
        return NUL in value or any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_unstorable_text(k) or _has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unstorable_text(item) for item in value)
    return False


def _check_body(body: bytes) -> None:
    if b"\\u" not in body:
        return  # without escapes JSON cannot carry either
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the handler's own parsing answers
    if _has_unstorable_text(parsed):
        raise Unprocessable(
            "text may not contain NUL characters or unpaired UTF-16 surrogates", loc=("body",)
        )


class RequestGuard:
    """Size limit and storable text for every request of one app."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse_early(scope)
        if refusal is not None:
            status, detail = refusal
            await _send_json(send, status, detail)
            return
        await self.app(scope, self._guarded_receive(receive), send)

    def _refuse_early(self, scope: Scope) -> tuple[int, Any] | None:
        if NUL in scope["path"] or b"%00" in scope["query_string"].lower():
            problem = {
                "loc": ["path" if NUL in scope["path"] else "query"],
                "msg": "NUL characters are not allowed",
                "type": "value_error",
            }
            return 422, [problem]
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return 400, "invalid Content-Length header"
                if declared > self.max_body_bytes:
                    return 413, f"request body exceeds {self.max_body_bytes} bytes"
        return None

    def _guarded_receive(self, receive: Receive) -> Receive:
        limit = self.max_body_bytes
        chunks: list[bytes] = []
        size = 0

        async def guarded() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"request body exceeds {limit} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    _check_body(b"".join(chunks))
                    chunks.clear()
            return message

        return guarded


async def _send_json(send: Send, status: int, detail: Any) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
