"""Outbox events of the column lane's rows, as binary COPY rows of the outbox table.

An event's ``data`` is the mapped row as JSON, the same document PostgreSQL's
``to_jsonb`` makes of the stored row (the row-wise outbox writes that, see
:class:`~syncflow.delivery.repository.OutboxRepository`), built here a column at a time:
numerics with the digits the target stores (decimal128 at the page's scale), dates as
``YYYY-MM-DD``, instants in UTC as ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`` with the
fraction's trailing zeros cut, text escaped (the lane holds printable ASCII only).
A page with a date or an instant outside the years 1-9999 gets ``None``: its events
are written by SQL instead. ``tests/pipeline/test_frame_events.py`` pins both ways equal.
"""

import json
from uuid import UUID

import polars as pl
import pyarrow as pa

from syncflow.domain import EntitySpec, FieldType
from syncflow.pipeline.frames.copy_binary import UUID_TYPE, constant, encode, rowversion_text
from syncflow.pipeline.frames.lane import DATA, KEY, LaneResult

# the outbox columns an event payload fills (the id and creation time are defaults)
EVENT_COLUMNS = (
    "entity",
    "bridge_uid",
    "key_hash",
    "operation",
    "data_hash",
    "rowversion",
    "batch_uid",
    "data",
    "parent_key_hashes",
)
# jsonb's binary input form: a version byte, then the text
_JSONB_VERSION = "\x01"
_QUOTE = pl.lit('"')


def _years_in_range(column: pl.Series) -> bool:
    """Whether every date or instant of ``column`` falls in the years 1-9999."""
    years = column.dt.year()
    low, high = years.min(), years.max()
    return low is None or (low >= 1 and high <= 9999)  # type: ignore[operator]


def _instant(name: str) -> pl.Expr:
    column = pl.col(name).dt.convert_time_zone("UTC")
    fraction = column.dt.strftime("%.6f").str.strip_chars_end("0").str.strip_chars_end(".")
    return pl.concat_str(
        [_QUOTE, column.dt.strftime("%Y-%m-%dT%H:%M:%S"), fraction, pl.lit('+00:00"')]
    )


def _value(name: str, kind: FieldType) -> pl.Expr:
    """One field's JSON text (``null`` for NULL)."""
    column = pl.col(name)
    match kind:
        case FieldType.TEXT:
            escaped = column.str.replace_all("\\", "\\\\", literal=True).str.replace_all(
                '"', '\\"', literal=True
            )
            text = pl.concat_str([_QUOTE, escaped, _QUOTE])
        case FieldType.BOOLEAN:
            text = pl.when(column).then(pl.lit("true")).otherwise(pl.lit("false"))
        case FieldType.DATE:
            text = pl.concat_str([_QUOTE, column.dt.strftime("%Y-%m-%d"), _QUOTE])
        case FieldType.TIMESTAMP:
            text = _instant(name)
        case _:  # integer, numeric: their digits
            text = column.cast(pl.String)
    return pl.when(column.is_null()).then(pl.lit("null")).otherwise(text)


def renderable(spec: EntitySpec, frame: pl.DataFrame) -> bool:
    """Whether :func:`data_document` covers every date and instant of ``frame`` (by
    target field name)."""
    temporal = (FieldType.DATE, FieldType.TIMESTAMP)
    return all(
        _years_in_range(frame.get_column(f.target_field)) for f in spec.fields if f.type in temporal
    )


def data_document(spec: EntitySpec) -> pl.Expr:
    """Each row's mapped fields (columns by target field name) as a JSON object."""
    parts: list[pl.Expr] = []
    for index, field in enumerate(spec.fields):
        prefix = ("{" if index == 0 else ",") + json.dumps(field.target_field) + ":"
        parts += [pl.lit(prefix), _value(field.target_field, field.type)]
    parts.append(pl.lit("}"))
    return pl.concat_str(parts)


def events_payload(
    lane: LaneResult,
    spec: EntitySpec,
    frame: pl.DataFrame,
    uids: pa.Array,
    *,
    operation: str,
    batch_uid: UUID,
) -> bytes | None:
    """``frame``'s rows (of ``lane``, given these ``_bridge_uid``s) as binary COPY rows of
    :data:`EVENT_COLUMNS`, one ``operation`` event each; ``None`` when their data must be
    rendered by SQL (see :func:`renderable`)."""
    count = frame.height
    mapped = frame.select(*lane.target_columns(), KEY, DATA)
    if not renderable(spec, mapped):
        return None
    rendered = mapped.select(
        pl.col(KEY).bin.encode("hex"),
        pl.col(DATA).bin.encode("hex"),
        pl.concat_str([pl.lit(_JSONB_VERSION), data_document(spec)]).cast(pl.Binary).alias("data"),
    ).to_arrow()
    columns = [
        constant(spec.name, pa.string(), count),
        uids,
        rendered.column(KEY).cast(pa.string()),
        constant(operation, pa.string(), count),
        rendered.column(DATA).cast(pa.string()),
        rowversion_text(frame),
        constant(batch_uid.bytes, UUID_TYPE, count),
        rendered.column("data").cast(pa.binary()),
        constant(_JSONB_VERSION.encode() + b"{}", pa.binary(), count),
    ]
    return encode(pa.table(columns, names=list(EVENT_COLUMNS)))
