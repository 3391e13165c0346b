"""What verify keeps of a source page: each row's key hash, data hash (NULL for a row
that fails the pipeline) and business key text, as binary COPY rows.

The column lane's rows stay columns (their hashes are already bytes); the rows the
row-wise stages decided, and failures whose key could be read, are added after them.
A failure without a key hash (its business keys are unreadable) is left out: verify
cannot place it, and the failed records name it.

A business key's text is ``k1|k2``: each value as the source sent it, in its JSON form
(``str`` of it; empty for NULL), the same for a row of the lane and a row decided row
by row.
"""

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from syncflow.domain import Record, RowFailure
from syncflow.pipeline.frames.copy_binary import UUID_TYPE, encode
from syncflow.pipeline.frames.lane import DATA, KEY, POSITION, LaneResult
from syncflow.pipeline.frames.rows import json_column
from syncflow.pipeline.prepare import PreparedPage

SCHEMA = pa.schema(
    [("key_hash", UUID_TYPE), ("data_hash", pa.binary()), ("business_key", pa.string())]
)


def staged_payload(prepared: PreparedPage, business_keys: Sequence[str]) -> bytes:
    """The rows of ``prepared`` as binary COPY rows of :data:`SCHEMA`."""
    return encode(staged_rows(prepared, business_keys))


def staged_rows(prepared: PreparedPage, business_keys: Sequence[str]) -> pa.Table:
    """The rows of ``prepared`` as :data:`SCHEMA`: the lane's, then the others."""
    decided = _decided(prepared.records, prepared.failures, business_keys)
    if prepared.lane is None:
        return decided
    return pa.concat_tables([_lane_rows(prepared.lane, business_keys), decided])


def _lane_rows(lane: LaneResult, business_keys: Sequence[str]) -> pa.Table:
    hashes = lane.frame.select(KEY, DATA, POSITION).to_arrow()
    sent = lane.source.select(list(business_keys)).take(hashes.column(POSITION))
    texts = [_json_texts(sent.column(name)) for name in business_keys]
    text = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, "|")
    return pa.table(
        [hashes.column(KEY).cast(UUID_TYPE), hashes.column(DATA).cast(pa.binary()), text],
        schema=SCHEMA,
    )


def _json_texts(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """``str`` of each value's JSON form, ``""`` for NULL (text and integers cast in
    Arrow, which writes them as ``str`` does; other types value by value)."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind):
        texts = column.cast(pa.string())
    else:
        texts = pa.array([None if v is None else str(v) for v in json_column(column)], pa.string())
    return pc.fill_null(texts, "")


def _decided(
    records: Sequence[Record], failures: Sequence[RowFailure], business_keys: Sequence[str]
) -> pa.Table:
    rows: list[tuple[str, bytes | None, dict[str, Any]]] = [
        (r.key_hash, bytes.fromhex(r.data_hash), r.raw) for r in records
    ]
    rows += [(f.key_hash, None, f.raw) for f in failures if f.key_hash]
    return pa.table(
        [
            pa.array([bytes.fromhex(key) for key, _, _ in rows], UUID_TYPE),
            pa.array([data for _, data, _ in rows], pa.binary()),
            pa.array([_business_key(raw, business_keys) for _, _, raw in rows], pa.string()),
        ],
        schema=SCHEMA,
    )


def _business_key(raw: dict[str, Any], business_keys: Sequence[str]) -> str:
    return "|".join("" if raw.get(name) is None else str(raw[name]) for name in business_keys)
