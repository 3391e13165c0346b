"""Throttling of failed sign-ins and bad bearer tokens, per account and per client address.

Each key (``account:<name>``, ``client:<address>``, ``token-client:<address>``) may fail a
few times for free; after that every failure locks the key for twice as long as the last
one (1 s, 2 s, 4 s, ... up to 15 minutes), and a locked key is answered with 429 and
``Retry-After`` before any password is checked. A successful sign-in clears its account.

An account under attack locks only that account and the attacking address: other
accounts, and other addresses, sign in as usual. The state is in memory, per process
(each uvicorn worker throttles on its own, which still bounds guessing to a few tries a
second), and bounded: the least recently failed keys are forgotten first.
Every failure is written to the log (the audit of failed sign-ins) and counted in
``bridge_auth_failures_total``.
"""

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import HTTPException, Request
from loguru import logger
from prometheus_client import Counter

from bridge_core.errors import TooManyRequests, Unauthorized

AUTH_FAILURES = Counter(
    "bridge_auth_failures_total", "Failed sign-ins and bad bearer tokens", ["service", "kind"]
)

MAX_LOCK_SECONDS = 15 * 60
MAX_KEYS = 100_000


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass(frozen=True)
class Allowance:
    """How many failures a kind of key may have before it is locked."""

    account: int = 5
    client: int = 20
    bearer_client: int = 50


class SignInThrottle:
    """Failure counts and lockouts for one service."""

    def __init__(
        self,
        service: str,
        *,
        allowance: Allowance = Allowance(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.allowance = allowance
        self.clock = clock
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    def _retry_after(self, key: str) -> int:
        entry = self._keys.get(key)
        if entry is None:
            return 0
        remaining = entry.locked_until - self.clock()
        return max(0, int(remaining + 0.999))

    def check(self, *keys: str) -> None:
        """429 when any of ``keys`` is locked."""
        wait = max((self._retry_after(key) for key in keys), default=0)
        if wait:
            raise TooManyRequests(
                f"too many failed attempts: try again in {wait} s", retry_after=wait
            )

    def failed(self, key: str, free: int) -> None:
        entry = self._keys.pop(key, None) or _Failures()
        entry.count += 1
        if entry.count > free:
            seconds = min(float(MAX_LOCK_SECONDS), 2.0 ** min(entry.count - free - 1, 20))
            entry.locked_until = self.clock() + seconds
        self._keys[key] = entry
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)

    @asynccontextmanager
    async def sign_in(self, request: Request, *, account: str) -> AsyncIterator[None]:
        """Wrap one password check: refused while locked, counted when it fails."""
        client = client_address(request)
        account_key, client_key = f"account:{account.casefold()}", f"client:{client}"
        self.check(account_key, client_key)
        try:
            yield
        except Unauthorized:
            self.failed(account_key, self.allowance.account)
            self.failed(client_key, self.allowance.client)
            AUTH_FAILURES.labels(self.service, "sign-in").inc()
            logger.warning("failed sign-in for account {!r} from {}", account[:150], client)
            raise
        self.succeeded(account_key)

    def check_bearer(self, request: Request) -> None:
        """429 for a client address that has sent too many bad tokens."""
        self.check(f"token-client:{client_address(request)}")

    def bad_bearer(self, request: Request, exc: HTTPException) -> HTTPException:
        """Count a bad token from this request's address; hand ``exc`` back to raise."""
        client = client_address(request)
        self.failed(f"token-client:{client}", self.allowance.bearer_client)
        AUTH_FAILURES.labels(self.service, "bearer").inc()
        logger.warning("bad bearer token from {}: {}", client, exc.detail)
        return exc


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def sign_in_throttle(request: Request) -> SignInThrottle:
    """The app's throttle (set by the app factory)."""
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    return throttle
