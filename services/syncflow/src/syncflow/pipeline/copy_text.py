"""Rows in PostgreSQL's COPY text format, built a column at a time.

Load sends every row through ``COPY ... FROM STDIN`` in text format, rendered here.
asyncpg's binary COPY encodes each value in its own call, and its ``numeric`` and
``timestamptz`` encoders cost about 2 µs a value (bench/RESULTS.md); rendering text a
column at a time keeps the per-row work in C: ``str``/``isoformat`` mapped over a
column, the escapes checked once per column, and each line joined by ``str.join``.
A value that is the same in every row (the batch uid, the load time) is rendered once.

Text format: columns split by tab, rows end with LF, NULL is ``\\N``; backslash, tab,
LF and CR inside a value are written as ``\\\\``, ``\\t``, ``\\n`` and ``\\r``.
"""

from collections.abc import Callable, Sequence
from datetime import date, datetime
from itertools import repeat
from operator import is_
from typing import Any, Literal

from syncflow.domain import FieldType

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


# a column's kind: a field type, or the uuid columns (parent uids, ids) load adds
UUID: Literal["uuid"] = "uuid"
ColumnKind = FieldType | Literal["uuid"]


def _boolean(value: Any) -> str:
    return "t" if value else "f"


_RENDER: dict[str, Callable[[Any], str]] = {
    FieldType.INTEGER: str,
    FieldType.NUMERIC: str,  # Decimal's str (1E+3 too) is numeric input PostgreSQL reads
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: date.isoformat,
    FieldType.TIMESTAMP: datetime.isoformat,  # aware: the offset goes along
    UUID: str,
}


def constant(kind: ColumnKind, value: Any) -> str:
    """One value's text form, for a column that holds it in every row."""
    if value is None:
        return NULL
    if kind == FieldType.TEXT:
        return str(value).translate(_ESCAPES)
    return _RENDER[kind](value)


def render(kind: ColumnKind, values: Sequence[Any]) -> list[str]:
    """A column's values in text form (``\\N`` for NULL)."""
    if kind == FieldType.TEXT:
        return _texts(values)
    write = _RENDER[kind]
    if any(map(is_, values, repeat(None))):  # not `None in`: Decimal == None is slow
        return [NULL if value is None else write(value) for value in values]
    return list(map(write, values))


def _texts(values: Sequence[Any]) -> list[str]:
    present = [value for value in values if value is not None] if None in values else values
    joined = "".join(present)  # text fields hold str: map and normalize make them so
    # one scan of the whole column decides whether any value needs an escape
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        texts = [text.translate(_ESCAPES) for text in present]
    else:
        texts = list(present)
    if len(texts) == len(values):
        return texts
    written = iter(texts)
    return [NULL if value is None else next(written) for value in values]


def rows(columns: Sequence[Sequence[str] | str], count: int) -> bytes:
    """``count`` rows from rendered columns (a ``str`` is a constant column)."""
    if not count:
        return b""
    parts = [repeat(column, count) if isinstance(column, str) else column for column in columns]
    return ("\n".join(map("\t".join, zip(*parts, strict=True))) + "\n").encode()
