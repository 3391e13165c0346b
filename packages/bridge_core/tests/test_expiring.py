"""ExpiringCache: entries expire after ttl, and the least recently used go first when full."""

from bridge_core.expiring import ExpiringCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_expires_after_ttl():
    clock = Clock()
    cache = ExpiringCache[str, int](ttl=10, max_entries=5, clock=clock)
    cache.put("a", 1)
    clock.now = 9.9
    assert cache.get("a") == 1
    clock.now = 10
    assert cache.get("a") is None


def test_an_entry_with_a_shorter_life_expires_first():
    clock = Clock()
    cache = ExpiringCache[str, int](ttl=10, max_entries=5, clock=clock)
    cache.put("short", 1, ttl=2)
    cache.put("long", 2, ttl=60)  # never longer than the cache's own ttl
    clock.now = 2
    assert cache.get("short") is None
    assert cache.get("long") == 2
    clock.now = 10
    assert cache.get("long") is None


def test_the_least_recently_used_entry_goes_first_when_full():
    cache = ExpiringCache[str, int](ttl=10, max_entries=2, clock=Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now b is the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_clear_empties_it():
    cache = ExpiringCache[str, int](ttl=10, max_entries=2, clock=Clock())
    cache.put("a", 1)
    cache.clear()
    assert cache.get("a") is None
