"""The runtime's filter and sort language: what a caller may ask of a saved query."""

from dataclasses import dataclass
from typing import Any

OPERATORS = (
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "like",
    "is_null",
    "not_null",
    "between",
)
DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True)
class Filter:
    """``field operator value``; ``value`` is JSON: a list for in, not_in and between, none for
    is_null and not_null."""

    field: str
    operator: str
    value: Any = None


@dataclass(frozen=True)
class SortKey:
    field: str
    direction: str = "asc"


def shown(name: str) -> str:
    """A caller-supplied name, quoted and cut short, for an error message."""
    return repr(name if len(name) <= 80 else name[:77] + "...")
