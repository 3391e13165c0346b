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
- Arrow IPC stream: one record batch per chunk read from the database. Types:
  integer -> int64, boolean -> bool, date -> date32, timestamp -> timestamp[us, UTC],
  time -> time64[us], binary -> binary; number (exact decimals), string and json ->
  utf8 text with the digits and text of the JSON encoding.
"""

import base64
import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from enum import StrEnum
from itertools import repeat
from operator import attrgetter
from typing import Any

import orjson
import pyarrow as pa

from apismith.drivers.base import ColumnInfo, ErpQueryError
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


# media ranges an Accept header may name, and the format each one picks
_ACCEPTED: dict[str, StreamFormat] = {
    StreamFormat.NDJSON: StreamFormat.NDJSON,
    StreamFormat.CSV: StreamFormat.CSV,
    StreamFormat.ARROW: StreamFormat.ARROW,
    "*/*": StreamFormat.NDJSON,
    "application/*": StreamFormat.NDJSON,
    "text/*": StreamFormat.CSV,
}


def negotiate(accept: str | None) -> StreamFormat:
    """The stream format an ``Accept`` header asks for (NDJSON when absent); 406 if none fits."""
    if accept is None or not accept.strip():
        return StreamFormat.NDJSON
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
        if media in _ACCEPTED:
            return _ACCEPTED[media]
    raise NotAcceptable(
        "cannot answer in the requested media type: Accept one of "
        f"{', '.join(StreamFormat)} (default {StreamFormat.NDJSON})"
    )


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


def _integer(value: Any) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise TypeError


def _boolean(value: Any) -> bool:
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise TypeError


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise TypeError
    if isinstance(value, date):
        return value
    raise TypeError


def _time(value: Any) -> time:
    if isinstance(value, time):
        return value
    raise TypeError


def _binary(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError


# Arrow type and converter per APISmith data type; others are utf8 through text_value
_ARROW_TYPES: dict[str, tuple[pa.DataType, Callable[[Any], Any]]] = {
    "integer": (pa.int64(), _integer),
    "boolean": (pa.bool_(), _boolean),
    "date": (pa.date32(), _date),
    "time": (pa.time64("us"), _time),
    "binary": (pa.binary(), _binary),
}
_TIMESTAMP = pa.timestamp("us", tz="UTC")


class ArrowEncoder(RowEncoder):
    """An Arrow IPC stream: the schema, one record batch per chunk, the end-of-stream marker."""

    media_type = StreamFormat.ARROW

    def __init__(self, columns: Sequence[ColumnInfo], zone: tzinfo) -> None:
        super().__init__(columns, zone)
        self._converters = [self._converter(column) for column in columns]
        self.schema = pa.schema(
            [pa.field(column.name, self._arrow_type(column)) for column in columns]
        )
        self._sink = io.BytesIO()
        self._writer = pa.ipc.new_stream(self._sink, self.schema)

    @staticmethod
    def _arrow_type(column: ColumnInfo) -> pa.DataType:
        if column.data_type == "timestamp":
            return _TIMESTAMP
        return _ARROW_TYPES.get(column.data_type, (pa.string(), None))[0]

    def _converter(self, column: ColumnInfo) -> Callable[[Any], Any]:
        zone = self.zone
        if column.data_type == "timestamp":

            def timestamp(value: Any) -> datetime:
                if isinstance(value, datetime):
                    return aware(value, zone)
                raise TypeError

            return timestamp
        if column.data_type in _ARROW_TYPES:
            return _ARROW_TYPES[column.data_type][1]
        return lambda value: text_value(value, zone)

    def _drain(self) -> bytes:
        data = self._sink.getvalue()
        self._sink.seek(0)
        self._sink.truncate()
        return data

    def encode(self, rows: Sequence[Row]) -> bytes:
        arrays = []
        for index, (field, convert) in enumerate(zip(self.schema, self._converters, strict=True)):
            values: list[Any] = []
            for row in rows:
                value = row[index]
                try:
                    values.append(None if value is None else convert(value))
                except TypeError:
                    raise ErpQueryError(
                        f"column '{field.name}' returned a {type(value).__name__} value, "
                        f"which does not fit its Arrow type {field.type}: the query's column "
                        "types may have changed since the API was saved"
                    ) from None
            arrays.append(pa.array(values, type=field.type))
        self._writer.write_batch(pa.record_batch(arrays, schema=self.schema))
        return self._drain()

    def finish(self) -> bytes:
        self._writer.close()
        return self._drain()


_ENCODERS: dict[StreamFormat, type[RowEncoder]] = {
    StreamFormat.NDJSON: NdjsonEncoder,
    StreamFormat.CSV: CsvEncoder,
    StreamFormat.ARROW: ArrowEncoder,
}


def row_encoder(media: StreamFormat, columns: Sequence[ColumnInfo], zone: tzinfo) -> RowEncoder:
    """The encoder of ``media`` for rows of ``columns``."""
    return _ENCODERS[media](columns, zone)
