"""A bounded per-process mapping whose entries expire: what a service may trust for a while."""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["ExpiringCache"]


class ExpiringCache[K: Hashable, V]:
    """``key -> value`` for ``ttl`` seconds, at most ``max_entries``, the least recently used
    dropped first."""

    def __init__(
        self, *, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V, *, ttl: float | None = None) -> None:
        """Keep ``value`` for the cache's ``ttl``, or for ``ttl`` seconds if that is shorter."""
        life = self.ttl if ttl is None else min(self.ttl, ttl)
        self._entries[key] = (value, self.clock() + life)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
