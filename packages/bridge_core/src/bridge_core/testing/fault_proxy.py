"""A fault-injecting HTTP proxy for tests: forwards to one upstream on loopback and makes
a share of the matching requests fail the ways a network and a busy server do.

    with fault_proxy(upstream, every=10, stall_seconds=1.5) as proxy:
        ...  # point the client at proxy.base_url; proxy.faults counts what was injected

Every ``every``-th matching request (1 in 10 by default: 10%) fails, the kinds taking
turns so a short test sees each of them:

- ``status``: a 503 with a JSON ``detail`` (the upstream is not called);
- ``stall``: no answer for ``stall_seconds`` (set it above the client's timeout), then
  the upstream's answer, to a client that has gone;
- ``drop``: the upstream's status and headers, half of its body, then the connection
  closes (the declared Content-Length is never reached).

The rest pass through unchanged. Only ``127.0.0.1`` upstreams are accepted.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from bridge_core.testing.live_server import live_server

FAULT_KINDS = ("status", "stall", "drop")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class FaultProxy:
    """The running proxy: its URL and what it did so far."""

    base_url: str = ""
    requests: int = 0  # matching requests seen
    faults: Counter[str] = field(default_factory=Counter)


class _DroppedBody(Response):
    """Declares the whole body, sends half of it, then returns: the server closes the
    connection and the client sees it break off mid-body."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2]})


def _forwarded_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in _HOP_BY_HOP}


@contextmanager
def fault_proxy(
    upstream: str,
    *,
    every: int = 10,
    stall_seconds: float = 1.5,
    matches: Callable[[str], bool] = lambda path: path.endswith("/execute"),
) -> Iterator[FaultProxy]:
    """Serve the proxy on a free loopback port for the block; yield its state."""
    if urlsplit(upstream).hostname != "127.0.0.1":
        raise ValueError("the fault proxy only forwards to 127.0.0.1")
    state = FaultProxy()
    clients: list[httpx.AsyncClient] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # made in the server's own event loop, which is the one that uses it
        async with httpx.AsyncClient(base_url=upstream, timeout=60) as client:
            clients.append(client)
            yield

    app = FastAPI(openapi_url=None, lifespan=lifespan)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def forward(path: str, request: Request) -> Any:
        fault = None
        if matches(request.url.path):
            state.requests += 1
            if state.requests % every == 0:
                fault = FAULT_KINDS[(state.requests // every - 1) % len(FAULT_KINDS)]
                state.faults[fault] += 1
        if fault == "status":
            return JSONResponse({"detail": "injected fault: service unavailable"}, status_code=503)
        if fault == "stall":
            await asyncio.sleep(stall_seconds)
        upstream_response = await clients[0].request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=await request.body(),
            headers=_forwarded_headers(httpx.Headers(request.headers.raw)),
        )
        response_class = _DroppedBody if fault == "drop" else Response
        return response_class(
            upstream_response.content,
            status_code=upstream_response.status_code,
            headers=_forwarded_headers(upstream_response.headers),
        )

    with live_server(app) as base_url:
        state.base_url = base_url
        yield state
