"""How rows leave APISmith: value encoding, and the NDJSON, CSV and Arrow stream formats.

Values (the same rules in every format):

- ``Decimal`` -> a string with every digit the database returned (``"12.500000"``),
  never a float; integers and floats are JSON numbers (a float NaN or infinity is null).
- ``datetime`` -> ISO 8601 with its offset. A naive value (a database type without a
  time zone) is read in the connection's ``timezone`` option (default UTC).
- ``date`` and ``time`` -> ISO 8601; ``bytes`` -> base64 (RFC 4648, padded).
- JSON documents stay JSON in JSON formats and become JSON text in CSV and Arrow.
- Anything else a driver returns (UUIDs, intervals, ...) travels as its text.

Formats, chosen by the ``Accept`` header of ``/stream`` (see :func:`negotiate`):

- NDJSON: one JSON object per row and line.
- CSV (RFC 4180, UTF-8, CRLF): a header row, then one record per row. Every non-NULL
  field is quoted and NULL is an empty unquoted field, so ``""`` (empty string) and
  NULL stay apart, as PostgreSQL's ``COPY ... CSV`` reads them.
- Arrow IPC stream: one record batch per chunk read from the database
  (``apismith.runtime.arrow``, which also writes ``execute``'s Arrow pages).

``execute`` answers JSON, or Arrow when ``Accept`` asks for it (:func:`negotiate_page`).
"""

import base64
import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from enum import StrEnum
from itertools import repeat
from operator import attrgetter
from typing import Any

import orjson

from apismith.drivers.base import ColumnInfo
from bridge_core.errors import BridgeError

Row = tuple[Any, ...]

_JSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME
_TZINFO = attrgetter("tzinfo")


class NotAcceptable(BridgeError):
    status_code = 406


class StreamFormat(StrEnum):
    NDJSON = "application/x-ndjson"
    CSV = "text/csv"
    ARROW = "application/vnd.apache.arrow.stream"


class PageFormat(StrEnum):
    JSON = "application/json"
    ARROW = "application/vnd.apache.arrow.stream"


# media ranges an Accept header may name, and the format each one picks
_STREAM_RANGES: dict[str, StreamFormat] = {
    StreamFormat.NDJSON: StreamFormat.NDJSON,
    StreamFormat.CSV: StreamFormat.CSV,
    StreamFormat.ARROW: StreamFormat.ARROW,
    "*/*": StreamFormat.NDJSON,
    "application/*": StreamFormat.NDJSON,
    "text/*": StreamFormat.CSV,
}
_PAGE_RANGES: dict[str, PageFormat] = {
    PageFormat.JSON: PageFormat.JSON,
    PageFormat.ARROW: PageFormat.ARROW,
    "*/*": PageFormat.JSON,
    "application/*": PageFormat.JSON,
}


def _pick[Format: StrEnum](
    accept: str | None, ranges: Mapping[str, Format], offered: type[Format]
) -> Format:
    """The format of the most wanted media range in ``accept`` that ``ranges`` knows;
    the first of ``offered`` when ``accept`` is absent; 406 naming them if none fits."""
    default = next(iter(offered))
    if accept is None or not accept.strip():
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept.split(",")):
        media, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, media.lower()))
    for _, _, media in sorted(ranked):
        if media in ranges:
            return ranges[media]
    raise NotAcceptable(
        "cannot answer in the requested media type: Accept one of "
        f"{', '.join(offered)} (default {default})"
    )


def negotiate(accept: str | None) -> StreamFormat:
    """The stream format an ``Accept`` header asks for (NDJSON when absent); 406 if none fits."""
    return _pick(accept, _STREAM_RANGES, StreamFormat)


def negotiate_page(accept: str | None) -> PageFormat:
    """The page format an ``Accept`` header asks for (JSON when absent); 406 if none fits."""
    return _pick(accept, _PAGE_RANGES, PageFormat)


def aware(value: datetime, zone: tzinfo) -> datetime:
    """``value`` with a time zone: a naive value is read in ``zone``."""
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _bytes_text(value: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def json_default(zone: tzinfo) -> Callable[[Any], Any]:
    """orjson's ``default``: the JSON form of every value orjson does not write itself."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, datetime):
            return aware(value, zone).isoformat()
        if isinstance(value, date | time):
            return value.isoformat()
        if isinstance(value, bytes | bytearray | memoryview):
            return _bytes_text(value)
        return str(value)

    return default


def encode_json(document: Any, *, zone: tzinfo) -> bytes:
    """``document`` as JSON bytes with APISmith's value encoding."""
    return orjson.dumps(document, default=json_default(zone), option=_JSON_OPTIONS)


def json_rows(rows: Sequence[Row], columns: Sequence[ColumnInfo], zone: tzinfo) -> list[Any]:
    """Rows as JSON objects, their decimals, dates, times and timestamps already written
    as text a column at a time (orjson's ``default`` would be one Python call a value).
    A value of another type than its column's is left to :func:`encode_json`."""
    names = [column.name for column in columns]
    if not rows:
        return []
    values: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, column in enumerate(columns):
        write = _COLUMN_TEXT.get(column.data_type)
        if write is not None:
            values[index] = write(values[index], zone)
    # map(zip, ...) pairs each row with the names in C; every row has every column
    return list(map(dict, map(zip, repeat(names), zip(*values, strict=True))))


def _decimal_texts(values: Sequence[Any], _: tzinfo) -> list[Any]:
    if set(map(type, values)) == {Decimal}:
        return list(map(format, values, repeat("f")))
    return [format(v, "f") if v.__class__ is Decimal else v for v in values]


def _timestamp_texts(values: Sequence[Any], zone: tzinfo) -> list[Any]:
    if set(map(type, values)) == {datetime} and None not in set(map(_TZINFO, values)):
        return list(map(datetime.isoformat, values))  # all aware: no Python call a value
    return [aware(v, zone).isoformat() if v.__class__ is datetime else v for v in values]


def _date_texts(values: Sequence[Any], _: tzinfo) -> list[Any]:
    kinds = set(map(type, values))
    if kinds == {date}:
        return list(map(date.isoformat, values))
    if kinds == {time}:
        return list(map(time.isoformat, values))
    return [v.isoformat() if v.__class__ is date or v.__class__ is time else v for v in values]


_COLUMN_TEXT: dict[str, Callable[[Sequence[Any], tzinfo], list[Any]]] = {
    "number": _decimal_texts,
    "timestamp": _timestamp_texts,
    "date": _date_texts,
    "time": _date_texts,
}


def text_value(value: Any, zone: tzinfo) -> str | None:
    """A value as text for CSV and Arrow text columns (NULL stays None)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | dict):
        return encode_json(value, zone=zone).decode()
    text: str = json_default(zone)(value)
    return text


class RowEncoder(ABC):
    """Turns chunks of rows (tuples in ``columns`` order) into the bytes of one format."""

    media_type: StreamFormat

    def __init__(self, columns: Sequence[ColumnInfo], zone: tzinfo) -> None:
        self.columns = list(columns)
        self.names = [column.name for column in columns]
        self.zone = zone

    def start(self) -> bytes:
        """What comes before the first row."""
        return b""

    @abstractmethod
    def encode(self, rows: Sequence[Row]) -> bytes:
        """One chunk of rows."""

    def finish(self) -> bytes:
        """What comes after the last row."""
        return b""


class NdjsonEncoder(RowEncoder):
    media_type = StreamFormat.NDJSON

    def encode(self, rows: Sequence[Row]) -> bytes:
        default = json_default(self.zone)
        options = _JSON_OPTIONS | orjson.OPT_APPEND_NEWLINE
        names = self.names
        return b"".join(
            orjson.dumps(dict(zip(names, row, strict=True)), default=default, option=options)
            for row in rows
        )


class CsvEncoder(RowEncoder):
    media_type = StreamFormat.CSV

    def _records(self, records: Sequence[Sequence[str | None]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_NOTNULL).writerows(records)
        return buffer.getvalue().encode()

    def start(self) -> bytes:
        return self._records([self.names])

    def encode(self, rows: Sequence[Row]) -> bytes:
        zone = self.zone
        return self._records([[text_value(value, zone) for value in row] for row in rows])
