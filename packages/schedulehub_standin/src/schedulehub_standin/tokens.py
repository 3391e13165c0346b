"""Access and refresh tokens: random strings kept in memory with their expiry.

In memory on purpose: a restarted stand-in has forgotten every token, so a client has
to sign in again, as it would after ScheduleHub rotated its keys. Expired tokens are
remembered (until their refresh window passes) so that a 401 can say ``token expired``
rather than ``invalid token``, the way ScheduleHub tells a client to refresh.
"""

import secrets
import time
from dataclasses import dataclass

from bridge_core.errors import Unauthorized


@dataclass
class _Grant:
    username: str
    expires_at: float


class TokenStore:
    def __init__(self, *, access_seconds: float, refresh_seconds: float) -> None:
        self.access_seconds = access_seconds
        self.refresh_seconds = refresh_seconds
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}

    def issue(self, username: str) -> tuple[str, str]:
        """A new ``(access, refresh)`` pair for ``username``."""
        self._forget_stale()
        now = time.monotonic()
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        self._access[access] = _Grant(username, now + self.access_seconds)
        self._refresh[refresh] = _Grant(username, now + self.refresh_seconds)
        return access, refresh

    def refresh(self, refresh_token: str) -> tuple[str, str]:
        """A new pair for a valid refresh token; the old refresh token stays valid (a client
        whose answer was lost may send it again)."""
        grant = self._refresh.get(refresh_token)
        if grant is None or grant.expires_at <= time.monotonic():
            raise Unauthorized("invalid or expired refresh token: sign in again")
        return self.issue(grant.username)

    def check(self, access_token: str) -> str:
        """The user of a valid access token; ``Unauthorized`` saying why it is not."""
        grant = self._access.get(access_token)
        if grant is None:
            raise Unauthorized("invalid token")
        if grant.expires_at <= time.monotonic():
            raise Unauthorized("token expired")
        return grant.username

    def expire(self, access_token: str) -> None:
        grant = self._access.get(access_token)
        if grant is not None:
            grant.expires_at = time.monotonic()

    def expire_all(self) -> None:
        now = time.monotonic()
        for grant in self._access.values():
            grant.expires_at = min(grant.expires_at, now)

    def _forget_stale(self) -> None:
        horizon = time.monotonic() - self.refresh_seconds
        for store in (self._access, self._refresh):
            for token in [t for t, g in store.items() if g.expires_at < horizon]:
                del store[token]
