"""Base for clients of downstream services: one pooled ``httpx.AsyncClient`` each.

Base URL, timeouts, bearer token, and retries with exponential backoff and full
jitter on connect errors, timeouts, 429 and 5xx. A persistent failure raises the
client's own :class:`ServiceClientError` with a message that names the service.
"""

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

import httpx
from loguru import logger

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ServiceClientError(Exception):
    """A downstream call that failed for good (after retries, or with a 4xx)."""

    def __init__(self, service: str, message: str, status_code: int | None = None) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status_code = status_code


class ServiceClient:
    """One downstream service: subclass it and add methods that call :meth:`request`."""

    service = "service"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 0.2,
        backoff_max: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    def _delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    async def _with_retries(
        self, method: str, url: str, *, read: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """The response once its headers arrive (and, with ``read``, its whole body: a
        connection dropped mid-body is retried like one dropped before the headers)."""
        last: str = ""
        for attempt in range(self.max_attempts):
            try:
                request = self.http.build_request(method, url, **kwargs)
                response = await self.http.send(request, stream=True)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = f"{type(exc).__name__} calling {method} {url}"
            else:
                if response.status_code not in RETRY_STATUSES and not read:
                    return response
                try:
                    await response.aread()
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__} reading the response to {method} {url}"
                else:
                    if response.status_code not in RETRY_STATUSES:
                        return response
                    last = f"HTTP {response.status_code} from {method} {url}: {_detail(response)}"
                finally:
                    await response.aclose()
            if attempt + 1 < self.max_attempts:
                delay = self._delay(attempt)
                logger.warning(
                    "{} call failed ({}); retry {}/{} in {:.2f}s",
                    self.service,
                    last,
                    attempt + 1,
                    self.max_attempts - 1,
                    delay,
                )
                await asyncio.sleep(delay)
        raise ServiceClientError(
            self.service, f"gave up after {self.max_attempts} attempts: {last}"
        )

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request with retries; return the read response; raise on a 4xx."""
        response = await self._with_retries(method, url, read=True, **kwargs)
        _raise_for_client_error(self.service, response, method, url)
        return response

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """A streamed response; retries apply until the response headers arrive."""
        response = await self._with_retries(method, url, **kwargs)
        try:
            if response.is_error:
                await response.aread()
            _raise_for_client_error(self.service, response, method, url)
            yield response
        finally:
            await response.aclose()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)[:200]


def _raise_for_client_error(service: str, response: httpx.Response, method: str, url: str) -> None:
    if response.is_error:
        raise ServiceClientError(
            service,
            f"HTTP {response.status_code} from {method} {url}: {_detail(response)}",
            status_code=response.status_code,
        )
