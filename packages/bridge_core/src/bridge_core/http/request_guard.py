"""Refuses input that no handler should see: bodies over the size limit (413) and text
that PostgreSQL cannot store, NUL characters and lone UTF-16 surrogates (422).

A pure ASGI middleware, so the check costs one scan of the raw bytes and nothing more
on an ordinary request: only a body that holds a ``\\u`` escape is parsed to look closer.
Refusals have the service's error shape (``bridge_core.http.errors``).
"""

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bridge_core.http.asgi_io import replay_body, send_json

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


def _has_unstorable_escape(body: bytes) -> bool:
    if b"\\u" not in body:
        return False  # without escapes JSON cannot carry either
    try:
        parsed = json.loads(body)
    except ValueError:
        return False  # not JSON: the handler's own parsing answers
    return _has_unstorable_text(parsed)


class RequestGuard:
    """Size limit and storable text for every request of one app.

    The body is read here, whole (within the limit), checked, and handed on unchanged:
    FastAPI buffers a body before it calls a handler anyway, and refusing it here gives
    one clear status whatever the handler's own parsing would have made of it.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse_early(scope)
        if refusal is None:
            body, refusal = await self._read_body(receive)
        if refusal is not None:
            status, detail = refusal
            await send_json(send, status, detail)
            return
        await self.app(scope, replay_body(body, receive), send)

    def _refuse_early(self, scope: Scope) -> tuple[int, Any] | None:
        raw_path = scope.get("raw_path") or b""
        if NUL in scope["path"] or b"%00" in raw_path.lower():
            return 422, [_problem("path", "NUL characters are not allowed")]
        if b"%00" in scope["query_string"].lower():
            return 422, [_problem("query", "NUL characters are not allowed")]
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return 400, "invalid Content-Length header"
                if declared > self.max_body_bytes:
                    return 413, f"request body exceeds {self.max_body_bytes} bytes"
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes, tuple[int, Any] | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", (413, f"request body exceeds {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _has_unstorable_escape(body):
            refusal = "text may not contain NUL characters or unpaired UTF-16 surrogates"
            return body, (422, [_problem("body", refusal)])
        return body, None


def _problem(where: str, message: str) -> dict[str, Any]:
    return {"loc": [where], "msg": message, "type": "value_error"}
