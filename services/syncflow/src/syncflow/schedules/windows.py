"""Sync windows and the pacing of background syncs (pure: every function is told the time).

A window is a daily span of wall-clock time, ``"HH:MM"`` to ``"HH:MM"``, in an IANA
timezone. When the end is earlier than the start the window crosses midnight
(``19:00``-``07:00`` opens at 19:00 and closes at 07:00 the next morning). Each
day's *occurrence* is computed on that day's local calendar, so on a DST change the
occurrence is an hour shorter or longer. A start or end that falls in a DST gap
moves forward by the gap; one in the repeated hour means its first occurrence.

A background sync (``days_to_complete``) reads a daily portion of its rows per
*period*: one window occurrence, or one local calendar day when there is no window.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# a walk over future periods stops here (an estimate years away is no estimate)
_MAX_PERIODS = 3660


def parse_hhmm(text: str) -> time:
    """``"19:30"`` -> ``time(19, 30)``; ``ValueError`` for anything else."""
    match = _HHMM.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time of day as HH:MM (00:00 to 23:59)")
    return time(int(match.group(1)), int(match.group(2)))


def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; ``ValueError`` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA timezone such as Europe/Berlin") from exc


@dataclass(frozen=True)
class SyncWindow:
    """A daily window; ``start == end`` means the whole day (midnight to midnight)."""

    start: time
    end: time
    timezone: ZoneInfo

    @classmethod
    def whole_day(cls, timezone: ZoneInfo) -> "SyncWindow":
        return cls(time(0), time(0), timezone)

    def _at(self, day: date, wall: time) -> datetime:
        return datetime.combine(day, wall, tzinfo=self.timezone).astimezone(UTC)

    def occurrence_from(self, day: date) -> tuple[datetime, datetime]:
        """The occurrence that opens on local ``day``: ``(opens, closes)``."""
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return self._at(day, self.start), self._at(end_day, self.end)

    def occurrence(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence open at ``at``, or ``None`` while the window is closed."""
        today = at.astimezone(self.timezone).date()
        for day in (today - timedelta(days=1), today):
            opens, closes = self.occurrence_from(day)
            if opens <= at < closes:
                return opens, closes
        return None

    def is_open(self, at: datetime) -> bool:
        return self.occurrence(at) is not None

    def next_opening(self, at: datetime) -> datetime:
        """The first opening strictly after ``at``."""
        day = at.astimezone(self.timezone).date() - timedelta(days=1)
        while True:
            opens, closes = self.occurrence_from(day)
            if opens > at and closes > opens:
                return opens
            day += timedelta(days=1)


@dataclass(frozen=True)
class Pacing:
    """How a scheduled batch may run: only inside its window, and with
    ``days_to_complete`` one daily portion (``ceil(rows / days)``) per period."""

    timezone: ZoneInfo
    window: SyncWindow | None = None
    days_to_complete: int | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> "Pacing | None":
        """The pacing a batch was queued with (``None``: run straight through)."""
        options = options or {}
        if not options.get("window_start") and not options.get("days_to_complete"):
            return None
        tz = zone(options.get("timezone") or "UTC")
        window = None
        if options.get("window_start") and options.get("window_end"):
            window = SyncWindow(
                parse_hhmm(options["window_start"]), parse_hhmm(options["window_end"]), tz
            )
        days = options.get("days_to_complete")
        return cls(timezone=tz, window=window, days_to_complete=int(days) if days else None)

    @property
    def periods(self) -> SyncWindow:
        """What one daily portion spans: the window, or the whole local day."""
        return self.window or SyncWindow.whole_day(self.timezone)

    def period(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The period open at ``at`` (``None`` outside the window)."""
        return self.periods.occurrence(at)

    def next_period(self, at: datetime) -> datetime:
        return self.periods.next_opening(at)

    def rows_per_period(self, total_rows: int) -> int | None:
        """The daily row budget for ``total_rows`` (``None`` without ``days_to_complete``)."""
        if not self.days_to_complete:
            return None
        return max(1, math.ceil(total_rows / self.days_to_complete))


def estimate_finish(
    pacing: Pacing | None,
    *,
    now: datetime,
    remaining_rows: int,
    rows_per_second: float | None,
    rows_per_period: int | None = None,
    budget_left: int | None = None,
) -> datetime | None:
    """When the remaining rows will have been read at ``rows_per_second``: only inside
    the window, and at most ``rows_per_period`` per period (``budget_left`` of them
    in the current one)."""
    if remaining_rows <= 0:
        return now
    if not rows_per_second:
        return None
    if pacing is None:
        return now + timedelta(seconds=remaining_rows / rows_per_second)
    moment = now
    budget = budget_left if rows_per_period else None
    for _ in range(_MAX_PERIODS):
        period = pacing.period(moment)
        if period is not None:
            by_time = int((period[1] - moment).total_seconds() * rows_per_second)
            capacity = by_time if budget is None else min(by_time, budget)
            if remaining_rows <= capacity:
                return moment + timedelta(seconds=remaining_rows / rows_per_second)
            remaining_rows -= max(capacity, 0)
        moment = pacing.next_period(moment)
        budget = rows_per_period
    return None
