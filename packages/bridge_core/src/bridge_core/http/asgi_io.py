"""Two steps a pure ASGI middleware takes when it reads a request body itself: hand the
app that body again, and answer with a JSON error of the services' shape.

Used by ``bridge_core.http.request_guard`` and the ScheduleHub stand-in's fault injection.
"""

import json
from typing import Any

from starlette.types import Message, Receive, Send

__all__ = ["replay_body", "send_json"]


def replay_body(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands the app the body read already, then the real stream
    (``http.disconnect``)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def send_json(
    send: Send, status: int, detail: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A whole response ``{"detail": detail}`` with ``status`` (and any extra ``headers``)."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
