"""How the pipeline tests compare a value with its case file: with its exact type."""

from datetime import date, datetime
from typing import Any


def shape(value: Any) -> tuple[str, Any]:
    """A value with its exact type (aware datetimes by their ISO text, offset included)."""
    if isinstance(value, datetime):
        return ("datetime", value.isoformat())
    if isinstance(value, date):
        return ("date", value.isoformat())
    return (type(value).__name__, value)
