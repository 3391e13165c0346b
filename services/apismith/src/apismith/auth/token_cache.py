"""Recently verified service tokens, kept for a few seconds per process.

A service token's signature is checked on every request, but its stored row (known, not
revoked) was read from the metadata database on every request too: a round trip, and an
``UPDATE`` of ``last_used_at`` each minute, on every page SyncFlow reads. A token found
good is now trusted for ``ttl`` seconds (10) by this process. Revoking a token clears the
cache of the process that revoked it at once; other server processes
(``APISMITH_WORKERS``) refuse it within ``ttl`` seconds.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from apismith.auth.principal import Principal

DEFAULT_TTL_SECONDS = 10.0
MAX_TOKENS = 10_000


class TokenCache:
    """``token hash -> principal`` for ``ttl`` seconds, the least recently used dropped first."""

    def __init__(
        self, *, ttl: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        principal, expires = entry
        if expires <= self.clock():
            del self._entries[token_hash]
            return None
        self._entries.move_to_end(token_hash)
        return principal

    def put(self, token_hash: str, principal: Principal) -> None:
        self._entries[token_hash] = (principal, self.clock() + self.ttl)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > MAX_TOKENS:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


def get_token_cache(request: Request) -> TokenCache:
    """The app's token cache (set by the app)."""
    cache: TokenCache = request.app.state.token_cache
    return cache


Tokens = Annotated[TokenCache, Depends(get_token_cache)]
