"""The clock that decides when things happen: schedules, windows, pauses, retries.

Everything that asks "is it time yet?" takes a :data:`Clock` instead of reading the
system time, so tests can move time forward by days without sleeping. Record
timestamps (``created_at``, ``_bridge_updated_at``) and leases use the real time.
"""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system time, timezone-aware (UTC): the clock of every real process."""
    return datetime.now(UTC)
