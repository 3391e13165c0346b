"""Fault injection: a seeded die per request decides whether and how it fails.

A pure ASGI middleware in front of the whole app. Requests to health, control, docs and
metrics never fail; every other one (sign-in, refresh, batch calls, webhooks) rolls the
die once. What each fault does to the request:

- ``gone``: 410 Gone, every request, while the plan says so;
- ``error``: ``error_status`` (503) at once, nothing applied;
- ``throttle``: 429 with ``Retry-After``, nothing applied;
- ``slow``: the request waits ``slow_seconds`` before it is handled (then answered);
  if the client hangs up during the wait, it is never handled;
- ``timeout``: handled and committed, then the answer is held back until the client
  hangs up (or ``timeout_seconds`` pass): applied, but the client never hears so;
- ``drop``: handled and committed, then the answer's head and half its body are sent
  and the connection closes: applied, and the client sees a broken response;
- ``expire_token``: the request's bearer token expires now (401 ``token expired``),
  so the client has to refresh; sign-in and webhooks are not affected.
"""

import asyncio
import random
from collections import Counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge_core.http.asgi_io import replay_body, send_json
from schedulehub_standin.schemas import FaultPlan

EXPIRE_TOKEN = "expire_token"
_RATED = ("error", "throttle", "timeout", "slow", "drop", EXPIRE_TOKEN)


class FaultDice:
    """The plan in force, its seeded die, and what was injected since the last reset."""

    def __init__(self, seed: int) -> None:
        self.default_seed = seed
        self.injected: Counter[str] = Counter()
        self.set_plan(FaultPlan())

    def set_plan(self, plan: FaultPlan) -> None:
        """Put ``plan`` in force with a fresh die (the same seed rolls the same faults)."""
        self.plan = plan
        self._die = random.Random(self.default_seed if plan.seed is None else plan.seed)

    def roll(self) -> str | None:
        """The fault for the next request, or None."""
        if self.plan.gone:
            fault: str | None = "gone"
        else:
            fault = None
            point = self._die.random()
            for kind in _RATED:
                share: float = getattr(self.plan, f"{kind}_rate")
                if point < share:
                    fault = kind
                    break
                point -= share
        if fault is not None:
            self.injected[fault] += 1
        return fault


class FaultInjection:
    """Rolls :class:`FaultDice` for each request that can fail and acts out the fault."""

    def __init__(self, app: ASGIApp, *, dice: FaultDice, api_prefix: str) -> None:
        self.app = app
        self.dice = dice
        self.exempt = (
            f"{api_prefix}/health",
            f"{api_prefix}/docs",
            f"{api_prefix}/openapi.json",
            "/_control",
            "/metrics",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        fault = self.dice.roll()
        plan = self.dice.plan
        if fault == "gone":
            await send_json(send, 410, "injected fault: gone")
        elif fault == "error":
            await send_json(send, plan.error_status, "injected fault: server error")
        elif fault == "throttle":
            headers = [(b"retry-after", str(plan.retry_after_seconds).encode())]
            await send_json(send, 429, "injected fault: too many requests", headers)
        elif fault in ("timeout", "drop"):
            messages: list[Message] = []

            async def keep(message: Message) -> None:
                messages.append(message)

            await self.app(scope, receive, keep)
            if fault == "timeout":
                await _hold_back(messages, receive, send, seconds=plan.timeout_seconds)
            else:
                await _drop(messages, send)
        elif fault == "slow":
            body = await _read_body(receive)
            # a client that gives up during the wait has its request abandoned, unapplied:
            # handled later, it could land after the client's retry and its next calls
            if body is not None and not await _leaves_within(receive, plan.slow_seconds):
                await self.app(scope, replay_body(body, receive), send)
        else:
            if fault == EXPIRE_TOKEN:
                scope.setdefault("state", {})[EXPIRE_TOKEN] = True
            await self.app(scope, receive, send)


async def _leaves_within(receive: Receive, seconds: float) -> bool:
    """Whether the client hangs up within ``seconds`` (its request body read already)."""

    async def client_left() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(client_left(), seconds)
    except TimeoutError:
        return False
    return True


async def _hold_back(
    messages: list[Message], receive: Receive, send: Send, *, seconds: float
) -> None:
    """Send the answer only if the client is still there after ``seconds``."""
    if not await _leaves_within(receive, seconds):
        for message in messages:
            await send(message)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client hangs up first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _drop(messages: list[Message], send: Send) -> None:
    """The head and half the body, then return: the server closes the connection short
    of the declared Content-Length."""
    start, *bodies = messages
    body = b"".join(message.get("body", b"") for message in bodies)
    await send(start)
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
