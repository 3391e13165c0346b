"""When a schedule runs next: every N seconds or by a crontab expression, in the
schedule's timezone, and never outside its window (pure: every function is told the time).

Cron expressions are computed by APScheduler's ``CronTrigger`` (timezone and DST
aware). Its weekday numbers differ from crontab's (APScheduler 3 counts 0 = Monday),
so the weekday field is translated: here, as in crontab, 0 and 7 are Sunday.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from syncflow.schedules.windows import SyncWindow, parse_hhmm, zone

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_TINY = timedelta(microseconds=1)


def _weekday(text: str) -> int:
    name = text.strip().lower()[:3]
    if name in WEEKDAYS:
        return WEEKDAYS.index(name)
    if name.isdigit() and 0 <= int(name) <= 7:
        return int(name)
    raise ValueError(f"{text!r} is not a weekday (0-7 or sun-sat)")


def _weekdays(field: str) -> str:
    """crontab's weekday field (``1-5``, ``0,6``, ``*/2``, ``mon-fri``) as APScheduler names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) > 0):
            raise ValueError(f"{part!r}: the step must be a positive number")
        step = int(step_text) if slash else 1
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            low, high = base.split("-", 1)
            first, last = _weekday(low), _weekday(high)
        else:
            first = _weekday(base)
            last = 6 if slash else first
        if last < first:
            raise ValueError(f"{part!r}: the range runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(WEEKDAYS[day] for day in sorted(days))


def crontab_trigger(expression: str, timezone: ZoneInfo) -> CronTrigger:
    """``minute hour day-of-month month day-of-week`` as a trigger; ``ValueError`` if invalid."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron {expression!r} needs 5 fields: minute hour day-of-month month day-of-week"
        )
    minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekdays(weekday),
            timezone=timezone,
        )
    except ValueError as exc:
        raise ValueError(f"cron {expression!r}: {exc}") from exc


@dataclass(frozen=True)
class ScheduleTiming:
    """A schedule's trigger (an interval or a cron trigger) and its optional window."""

    interval: timedelta | None
    cron: CronTrigger | None
    window: SyncWindow | None

    @classmethod
    def of(
        cls,
        *,
        interval_seconds: int | None,
        cron: str | None,
        timezone: str,
        window_start: str | None,
        window_end: str | None,
    ) -> "ScheduleTiming":
        """The timing of a schedule's fields; ``ValueError`` saying what is wrong."""
        tz = zone(timezone)
        window = None
        if window_start is not None and window_end is not None:
            window = SyncWindow(parse_hhmm(window_start), parse_hhmm(window_end), tz)
        return cls(
            interval=timedelta(seconds=interval_seconds) if interval_seconds else None,
            cron=crontab_trigger(cron, tz) if cron else None,
            window=window,
        )

    def _cron_fire(self, at_or_after: datetime) -> datetime:
        assert self.cron is not None
        fire: datetime | None = self.cron.get_next_fire_time(None, at_or_after)
        if fire is None:
            raise ValueError("the cron expression never fires")
        return fire.astimezone(UTC)

    def _inside_window(self, candidate: datetime) -> datetime:
        """``candidate``, or the first run at or after the window's next opening."""
        if self.window is None or self.window.is_open(candidate):
            return candidate
        opening = self.window.next_opening(candidate)
        return opening if self.cron is None else self._cron_fire(opening)

    def first_run(self, now: datetime) -> datetime:
        """A new (or changed) schedule's first run: an interval runs now, a cron at its
        next fire time; either one moved into the window."""
        candidate = now if self.cron is None else self._cron_fire(now + _TINY)
        return self._inside_window(candidate)

    def next_run(self, *, due: datetime, now: datetime) -> datetime:
        """The run after the one due at ``due``; runs missed meanwhile are skipped
        (an interval keeps its rhythm: ``due + k * interval``)."""
        if self.interval is not None:
            missed = (now - due) // self.interval
            candidate = due + self.interval * (missed + 1)
        else:
            candidate = self._cron_fire(now + _TINY)
        return self._inside_window(candidate)

    def deferred(self, now: datetime) -> datetime:
        """Where a run that came due outside the window goes: into the next one."""
        return self._inside_window(now)
