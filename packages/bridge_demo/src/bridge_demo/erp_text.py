"""How legacy ERP interfaces deliver values: the sample ERP's text, messy on purpose
(padding, CR LF, control characters), dates and costs in the shapes ERP exports use."""

import random
from datetime import date, datetime
from decimal import Decimal

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def messy(rng: random.Random, text: str) -> str:
    """``text`` the way a legacy interface might deliver it (mostly unharmed)."""
    roll = rng.random()
    if roll < 0.55:
        return text
    if roll < 0.70:
        return f"  {text}   "
    if roll < 0.78:
        return f"{text}\u00a0"  # a trailing no-break space
    if roll < 0.86:
        first, _, rest = text.partition(" ")
        return f"{first}\r\n{rest}" if rest else text
    if roll < 0.93:
        return f"{text}\x07"
    return f"\x1b{text} "


def oracle_date(day: date) -> str:
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year % 100:02d}"


def date_text(rng: random.Random, moment: datetime) -> str:
    """One of the date formats ERP exports use (every one of them means ``moment``)."""
    match rng.randrange(7):
        case 0:
            return oracle_date(moment.date())
        case 1:
            return moment.strftime("%d.%m.%Y %H:%M")
        case 2:
            return moment.strftime("%Y-%m-%dT%H:%M:%S+01:00")
        case 3:
            return moment.strftime("%Y%m%d")
        case 4:
            month = MONTHS[moment.month - 1].title()
            return f"{month} {moment.day}, {moment.year}"
        case 5:
            return moment.strftime("%m/%d/%Y")
        case _:
            return moment.strftime("%Y-%m-%d")


def money_text(rng: random.Random, value: Decimal) -> str:
    """A cost as text, in one of the shapes ERP exports use."""
    match rng.randrange(8):
        case 0 | 1:
            return f"{value}"
        case 2:
            return f"{value:,}"
        case 3:
            return f"${value:,}"
        case 4:
            return f"{value:,} €"
        case 5 if value >= 1000:
            # both marks: the last one is the decimal mark
            text = f"{value:,}".replace(",", "_").replace(".", ",").replace("_", ".")
            return f"{text} €"
        case 6 if rng.random() < 0.2:
            return f"({value})"  # accounting negative: a revaluation credit
        case _:
            return f" {value} "
