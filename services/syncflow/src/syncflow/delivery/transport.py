"""One HTTP request towards a destination, recorded and classified.

Every request a delivery makes (ScheduleHub's login, refresh, query, insert, update,
delete; a webhook call) is one :class:`Attempt`: when, what, the status, the latency and
the first KB of the answer, collected by the :func:`recording` it is made in (each
batch in flight has its own, though the batches of a stream share one client). A
request that fails the whole batch raises :class:`DeliveryFailed`, whose ``action``
says what happens to the batch:

- ``retry``: timeouts, dropped connections, 429 and 5xx (``Retry-After`` honoured);
- ``dead``: any other 4xx, and an answer that is not what the contract says;
- ``gone``: 410, the destination is paused with the reason.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
import orjson

RESPONSE_EXCERPT = 1024
Action = Literal["retry", "dead", "gone"]


@dataclass
class Attempt:
    request: str
    attempted_at: datetime
    latency_ms: float
    status_code: int | None = None
    response: str | None = None
    error: str | None = None


# the attempts of the batch the running task sends (see :func:`recording`)
_attempts: ContextVar[list[Attempt] | None] = ContextVar("delivery_attempts", default=None)


@contextmanager
def recording() -> Iterator[list[Attempt]]:
    """Collect the attempts made in this block, by this task only."""
    attempts: list[Attempt] = []
    token = _attempts.set(attempts)
    try:
        yield attempts
    finally:
        _attempts.reset(token)


class DeliveryFailed(Exception):
    """The batch could not be delivered by this request (see the module doc)."""

    def __init__(self, action: Action, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.action = action
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), or ``None``."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


def _classify(response: httpx.Response, request: str) -> DeliveryFailed | None:
    status = response.status_code
    if status < 300:
        return None
    shown = f"HTTP {status} from {request}: {response.text[:RESPONSE_EXCERPT]}"
    if status == 410:
        return DeliveryFailed("gone", shown)
    if status == 429 or status >= 500:
        return DeliveryFailed("retry", shown, retry_after=_retry_after(response))
    return DeliveryFailed("dead", shown)


@dataclass
class Transport:
    """An ``httpx.AsyncClient`` for one destination that records every request made
    inside :func:`recording`."""

    http: httpx.AsyncClient

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        credentials_in_answer: bool = False,
    ) -> httpx.Response:
        """Send once; the response when it is 2xx or 401 (the caller may log in again),
        else :class:`DeliveryFailed`. With ``credentials_in_answer`` (a login) a 2xx
        answer is not kept in the attempt: attempts are shown to operators and viewers."""
        request = f"{method} {path}"
        started = datetime.now(UTC)
        clock = time.perf_counter()
        body = orjson.dumps(json) if json is not None else content
        send_headers = {"content-type": "application/json", **(headers or {})}
        try:
            response = await self.http.request(method, path, content=body, headers=send_headers)
        except httpx.TimeoutException as exc:
            self._record(request, started, clock, error=f"timeout: {type(exc).__name__}")
            raise DeliveryFailed("retry", f"{request} timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:  # refused, dropped, cut off, undecodable
            self._record(request, started, clock, error=f"{type(exc).__name__}: {exc}")
            raise DeliveryFailed("retry", f"{request} failed: {type(exc).__name__}") from exc
        self._record(
            request,
            started,
            clock,
            status_code=response.status_code,
            response=None
            if credentials_in_answer and response.is_success
            else response.text[:RESPONSE_EXCERPT],
        )
        if response.status_code == 401:
            return response
        failure = _classify(response, request)
        if failure is not None:
            raise failure
        return response

    def _record(self, request: str, started: datetime, clock: float, **outcome: Any) -> None:
        attempts = _attempts.get()
        if attempts is None:
            return
        latency = round((time.perf_counter() - clock) * 1000, 2)
        attempts.append(
            Attempt(request=request, attempted_at=started, latency_ms=latency, **outcome)
        )


def json_body(response: httpx.Response, request: str) -> dict[str, Any]:
    """The response's JSON object, or a ``dead`` failure saying the answer is not one."""
    try:
        body = response.json()
    except ValueError as exc:
        raise DeliveryFailed("dead", f"{request} answered no JSON: {response.text[:200]}") from exc
    if not isinstance(body, dict):
        raise DeliveryFailed("dead", f"{request} answered {type(body).__name__}, not an object")
    return body


def unauthorized(response: httpx.Response, request: str) -> DeliveryFailed:
    """A 401 that logging in again did not cure: dead-lettered with the answer."""
    return DeliveryFailed("dead", f"HTTP 401 from {request}: {response.text[:RESPONSE_EXCERPT]}")
