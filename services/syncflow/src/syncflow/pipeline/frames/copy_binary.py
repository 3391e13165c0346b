"""The column lane's rows in PostgreSQL's binary COPY format, encoded from Arrow by ``pgpq``.

Binary COPY carries no types: each field is its length and the bytes of the target
column type's binary form, so every Arrow column is cast to the type whose encoding
is the target column's (int64 -> bigint, decimal128 -> numeric, date32 -> date,
timestamp in microseconds -> timestamptz, utf8 -> text, bool -> boolean, 16-byte
binary -> uuid, binary -> bytea). ``pgpq`` writes the header, the rows and the trailer.
"""

from datetime import datetime
from uuid import UUID

import pgpq
import polars as pl
import pyarrow as pa

from bridge_core.ids import new_id_block
from syncflow.domain import EntitySpec, FieldType
from syncflow.pipeline.frames.lane import DATA, KEY, POSITION, ROWVERSION, LaneResult

UUID_TYPE = pa.binary(16)
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW: dict[FieldType, pa.DataType] = {
    FieldType.TEXT: pa.string(),
    FieldType.INTEGER: pa.int64(),
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.DATE: pa.date32(),
    FieldType.TIMESTAMP: _TIMESTAMP,
}


def encode(table: pa.Table) -> bytes:
    encoder = pgpq.ArrowToPostgresBinaryEncoder(table.schema)
    parts = [encoder.write_header()]
    parts.extend(encoder.write_batch(batch) for batch in table.to_batches())
    parts.append(encoder.finish())
    return b"".join(parts)


def new_uids(count: int) -> pa.Array:
    """``count`` new UUID v7 (``_bridge_uid``) as 16-byte values."""
    data = new_id_block(count)
    return pa.FixedSizeBinaryArray.from_buffers(UUID_TYPE, count, [None, pa.py_buffer(data)])


def uid_bytes(uids: pa.Array) -> bytes:
    """:func:`new_uids`' values as one run of 16-byte values."""
    start = uids.offset * 16
    data: bytes = uids.buffers()[1].to_pybytes()
    return data[start : start + 16 * len(uids)]


def constant(value: object, kind: pa.DataType, count: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, type=kind), count)


def _field(column: pa.ChunkedArray, kind: FieldType) -> pa.ChunkedArray:
    wanted = _ARROW.get(kind)
    if wanted is None:  # numeric: decimal128 as the page brought it
        return column
    return column.cast(wanted) if column.type != wanted else column


def rowversion_text(frame: pl.DataFrame) -> pa.Array | pa.ChunkedArray:
    """Each row's rowversion as the text the target keeps (NULL without one)."""
    if ROWVERSION not in frame.columns:
        return pa.nulls(frame.height, pa.string())
    return frame.select(ROWVERSION).to_arrow().column(0).cast(pa.string())


def rows_payload(
    lane: LaneResult,
    spec: EntitySpec,
    frame: pl.DataFrame,
    *,
    uids: pa.Array,
    batch_uid: UUID,
    now: datetime,
) -> bytes:
    """``frame`` (rows of ``lane``) as binary COPY rows of ``load.copy_columns(spec)``
    (an entity without parent refs), with these ``_bridge_uid``s (:func:`new_uids`)."""
    count = frame.height
    targets = frame.select(lane.target_columns()).to_arrow()
    extra = frame.select(KEY, DATA).to_arrow()
    columns: list[pa.ChunkedArray | pa.Array] = [
        _field(targets.column(f.target_field), f.type) for f in spec.fields
    ]
    stamp = constant(now, _TIMESTAMP, count)
    columns.extend(
        [
            uids,
            extra.column(KEY).cast(UUID_TYPE),
            extra.column(DATA).cast(pa.binary()),
            rowversion_text(frame),
            pa.nulls(count, pa.string()),  # _bridge_ref
            constant(batch_uid.bytes, UUID_TYPE, count),
            stamp,  # _bridge_created_at
            stamp,  # _bridge_updated_at
            pa.nulls(count, _TIMESTAMP),  # _bridge_deleted_at
        ]
    )
    names = [f"c{index}" for index in range(len(columns))]
    return encode(pa.table(columns, names=names))


def seen_payload(frame: pl.DataFrame) -> bytes:
    """The key hash of each row, as binary COPY rows of a batch's seen-keys table."""
    keys = frame.select(KEY).to_arrow().column(KEY).cast(UUID_TYPE)
    return encode(pa.table([keys], names=["key_hash"]))


def keys_payload(frame: pl.DataFrame) -> bytes:
    """``(key hash, data hash, position)`` of each row, as binary COPY rows."""
    table = frame.select(KEY, DATA, POSITION).to_arrow()
    columns = [
        table.column(KEY).cast(UUID_TYPE),
        table.column(DATA).cast(pa.binary()),
        table.column(POSITION).cast(pa.int64()),
    ]
    return encode(pa.table(columns, names=["key_hash", "data_hash", "position"]))
