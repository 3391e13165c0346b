"""Datetimes layer: dates and timestamps in the formats ERPs and their exports write.

Every format is explicit (no guessing parser): ISO 8601 with or without an offset
(``2025-12-08T10:30:00+01:00``, ``2025-12-08 10:30:00``), compact ``20251208[1030[00]]``,
day-first dots and dashes (``08.12.2025 10:30``, ``08-12-2025``), slashes in US order
unless ``slash_day_first`` (``12/08/2025``), year-first with any separator
(``2025/12/08``), month names in English (``31-DEC-25``, ``8 Dec 2025``,
``December 8, 2025``), 12-hour clocks (``10:30 PM``), Oracle's ``10.30.00.000000 AM``,
and trailing ``Z``, ``UTC``, ``GMT`` or ``+01:00``. Two-digit years follow Oracle's RR
rule (00-49 -> 20xx, 50-99 -> 19xx). Fractions of a second beyond microseconds are cut.

A value without an offset is wall time in the source timezone. A repeated wall time
(autumn) is read as the later instant and a skipped one (spring) with the offset before
the jump, as PostgreSQL reads ``timestamptz`` text: ``2025-03-30 02:30`` in
Europe/Berlin is ``03:30+02:00``.
"""

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTHS: dict[str, int] = {
    **{name: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    **{name[:3]: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    "sept": 9,
}

# 08.12.2025, 08-12-2025, 12/08/2025, 2025/12/08 (the separator repeats)
_NUMERIC_DATE = re.compile(r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})")
# 31-DEC-25, 8 Dec 2025, 08.Dec.2025
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})[-/. ]([A-Za-z]{3,9})\.?[-/ ,.]?\s*(\d{4}|\d{2})(?!\d)")
# Dec 8, 2025 / December 8th 2025
_MONTH_NAME_DAY = re.compile(r"([A-Za-z]{3,9})\.?[ -](\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)")
# what may follow a date: a clock time (":" or Oracle's "."), AM/PM, an offset
_TIME = re.compile(
    r"(?:[T ]\s*(\d{1,2})[:.](\d{2})(?:[:.](\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(?:([AaPp])\.?[Mm]\.?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Zulu", "Etc/Zulu"})
_FIXED_OFFSETS: dict[timedelta, timezone] = {timedelta(0): UTC}


def _fixed(offset: timedelta) -> timezone:
    zone = _FIXED_OFFSETS.get(offset)
    if zone is None:
        zone = _FIXED_OFFSETS[offset] = timezone(offset)
    return zone


def from_epoch(seconds: int | Decimal) -> datetime:
    """Unix epoch seconds (UTC), to the microsecond."""
    micros = int((Decimal(seconds) * 1_000_000).to_integral_value())
    return _EPOCH + timedelta(microseconds=micros)


def full_year(digits: str) -> int:
    """A year from four digits, or from two by Oracle's RR rule."""
    if len(digits) == 4:
        return int(digits)
    if len(digits) == 2:
        short = int(digits)
        return 2000 + short if short < 50 else 1900 + short
    raise ValueError(f"year {digits!r} must have 2 or 4 digits")


class DateTimeReader:
    """Reads date and timestamp text for one source timezone and slash-date order."""

    def __init__(self, timezone_name: str, *, slash_day_first: bool = False) -> None:
        try:
            zone = ZoneInfo(timezone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown source timezone {timezone_name!r}") from None
        # UTC needs no zone rules at all: the common case stays a plain replace()
        self.zone: ZoneInfo | None = None if timezone_name in _UTC_NAMES else zone
        self.slash_day_first = slash_day_first

    def parse_timestamp(self, text: str) -> datetime:
        """An aware datetime; wall times without an offset are in the source timezone."""
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                moment = self._read(text)
        else:
            moment = self._read(text)
        return moment if moment.tzinfo is not None else self.localize(moment)

    def parse_date(self, text: str) -> date:
        """A calendar date; a value with a time and offset gives its date in the source
        timezone."""
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        moment = self._read(text)
        return self.local_date(moment) if moment.tzinfo is not None else moment.date()

    def local_date(self, moment: datetime) -> date:
        """The date an aware datetime falls on in the source timezone."""
        return moment.astimezone(self.zone or UTC).date()

    def localize(self, wall: datetime) -> datetime:
        """A naive wall time in the source timezone as an aware datetime (fixed offset)."""
        zone = self.zone
        if zone is None:
            return wall.replace(tzinfo=UTC)
        first = zone.utcoffset(wall) or timedelta(0)
        second = zone.utcoffset(wall.replace(fold=1)) or timedelta(0)
        if first == second:
            return wall.replace(tzinfo=_fixed(first))
        if first > second:
            # repeated hour: the later instant has the smaller offset
            return wall.replace(tzinfo=_fixed(second))
        # skipped hour: the offset before the jump, shown on the clock after it
        moment = wall.replace(tzinfo=_fixed(first)).astimezone(zone)
        return moment.replace(tzinfo=_fixed(moment.utcoffset() or timedelta(0)))

    def _read(self, text: str) -> datetime:
        """Any accepted format; naive unless the text carries an offset."""
        if text.isdigit() and text.isascii():
            return self._compact(text)
        match = _NUMERIC_DATE.match(text)
        if match is not None:
            first, separator, middle, last = match.groups()
            if len(first) == 4:
                year, month, day = int(first), int(middle), int(last)
            elif separator == "/" and not self.slash_day_first:
                month, day, year = int(first), int(middle), full_year(last)
                if month > 12:
                    raise ValueError(f"month {month}: slash dates are month/day/year here")
            else:
                day, month, year = int(first), int(middle), full_year(last)
        elif (match := _DAY_MONTH_NAME.match(text)) is not None:
            day, month, year = int(match[1]), _month(match[2]), full_year(match[3])
        elif (match := _MONTH_NAME_DAY.match(text)) is not None:
            month, day, year = _month(match[1]), int(match[2]), int(match[3])
        else:
            raise ValueError("not a date format SyncFlow reads")
        return _with_time(year, month, day, text[match.end() :])

    @staticmethod
    def _compact(digits: str) -> datetime:
        if len(digits) not in (8, 12, 14):
            raise ValueError("digits only: expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS")
        return datetime(
            int(digits[:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10] or 0),
            int(digits[10:12] or 0),
            int(digits[12:14] or 0),
        )


def _month(name: str) -> int:
    month = _MONTHS.get(name.lower())
    if month is None:
        raise ValueError(f"unknown month {name!r}")
    return month


def _with_time(year: int, month: int, day: int, rest: str) -> datetime:
    if not rest:
        return datetime(year, month, day)
    match = _TIME.fullmatch(rest)
    if match is None:
        raise ValueError(f"unexpected {rest.strip()!r} after the date")
    hour_text, minute, second, fraction, meridiem, offset = match.groups()
    if hour_text is None:
        if meridiem or offset:
            raise ValueError("AM/PM or an offset without a time")
        return datetime(year, month, day)
    hour = int(hour_text)
    if meridiem is not None:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} on a 12-hour clock")
        hour = hour % 12 + (12 if meridiem in "Pp" else 0)
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    moment = datetime(year, month, day, hour, int(minute), int(second or 0), micro)
    if offset is None:
        return moment
    if offset in ("Z", "UTC", "GMT"):
        return moment.replace(tzinfo=UTC)
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return moment.replace(tzinfo=_fixed(timedelta(minutes=sign * minutes)))
