"""What verify keeps of a source page: each row's key hash, data hash (NULL for a row
that fails the pipeline) and business key text, as one Arrow table.

The column lane's rows stay columns (their hashes are already bytes); the rows the
row-wise stages decided, and failures whose key could be read, are added after them.
A failure without a key hash (its business keys are unreadable) is left out: verify
cannot place it, and the failed records name it.
"""

from collections.abc import Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from syncflow.domain import Record, RowFailure
from syncflow.pipeline.frames.copy_binary import UUID_TYPE
from syncflow.pipeline.frames.lane import DATA, KEY, LaneResult
from syncflow.pipeline.prepare import PreparedPage

SCHEMA = pa.schema(
    [("key_hash", UUID_TYPE), ("data_hash", pa.binary()), ("business_key", pa.string())]
)


def staged_rows(prepared: PreparedPage, business_keys: Sequence[str]) -> pa.Table:
    """The rows of ``prepared`` as :data:`SCHEMA`; a key the page holds twice keeps the
    order the page gave it (the later row is staged later)."""
    decided = _decided(prepared.records, prepared.failures, business_keys)
    if prepared.lane is None:
        return decided
    return pa.concat_tables([_lane_rows(prepared.lane, business_keys), decided])


def _lane_rows(lane: LaneResult, business_keys: Sequence[str]) -> pa.Table:
    texts = [pl.col(name).cast(pl.String).fill_null("") for name in business_keys]
    frame = lane.frame.select(KEY, DATA, pl.concat_str(texts, separator="|").alias("text"))
    arrow = frame.to_arrow()
    return pa.table(
        [
            arrow.column(KEY).cast(UUID_TYPE),
            arrow.column(DATA).cast(pa.binary()),
            arrow.column("text").cast(pa.string()),
        ],
        schema=SCHEMA,
    )


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
