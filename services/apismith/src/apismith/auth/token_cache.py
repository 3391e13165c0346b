"""Recently verified service tokens, kept for a few seconds per process.

A service token's signature is checked on every request, but its stored row (known, not
revoked) was read from the metadata database on every request too: a round trip, and an
``UPDATE`` of ``last_used_at`` each minute, on every page SyncFlow reads. A token found
good is now trusted for ``ttl`` seconds (10) by this process. Revoking a token clears the
cache of the process that revoked it at once; other server processes
(``APISMITH_WORKERS``) refuse it within ``ttl`` seconds.
"""

from typing import Annotated

from fastapi import Depends, Request

from apismith.auth.principal import Principal
from bridge_core.expiring import ExpiringCache

DEFAULT_TTL_SECONDS = 10.0
MAX_TOKENS = 10_000


class TokenCache(ExpiringCache[str, Principal]):
    """``token hash -> principal`` for ``ttl`` seconds, the least recently used dropped first."""

    def __init__(self) -> None:
        super().__init__(ttl=DEFAULT_TTL_SECONDS, max_entries=MAX_TOKENS)


async def get_token_cache(request: Request) -> TokenCache:
    """The app's token cache (set by the app)."""
    cache: TokenCache = request.app.state.token_cache
    return cache


Tokens = Annotated[TokenCache, Depends(get_token_cache)]
