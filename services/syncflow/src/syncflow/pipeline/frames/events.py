"""Outbox events of the column lane's rows, as binary COPY rows of the outbox table.

An insert or update event names the row version it wrote (its ``_bridge_uid`` and data
hash) and keeps no copy of the mapped row (see
:mod:`syncflow.delivery.repository`): from the lane it is the uids the rows were COPYed
with, the hashes as hex and the rowversion as the target keeps it.
``tests/pipeline/test_frame_events.py`` pins that it equals the event SQL writes.
"""

from uuid import UUID

import polars as pl
import pyarrow as pa

from syncflow.pipeline.frames.copy_binary import UUID_TYPE, constant, encode, rowversion_text
from syncflow.pipeline.frames.lane import DATA, KEY

# the outbox columns an event payload fills (the id, data and creation time: defaults)
EVENT_COLUMNS = (
    "entity",
    "bridge_uid",
    "key_hash",
    "operation",
    "data_hash",
    "rowversion",
    "batch_uid",
    "parent_key_hashes",
)
# jsonb's binary input form: a version byte, then the text
_NO_PARENTS = b"\x01{}"


def events_payload(
    entity: str, frame: pl.DataFrame, uids: pa.Array, *, operation: str, batch_uid: UUID
) -> bytes:
    """``frame``'s rows (a lane's, stored with these ``_bridge_uid``s) as binary COPY rows
    of :data:`EVENT_COLUMNS`, one ``operation`` event each."""
    count = frame.height
    hashes = frame.select(pl.col(KEY).bin.encode("hex"), pl.col(DATA).bin.encode("hex")).to_arrow()
    columns = [
        constant(entity, pa.string(), count),
        uids,
        hashes.column(KEY).cast(pa.string()),
        constant(operation, pa.string(), count),
        hashes.column(DATA).cast(pa.string()),
        rowversion_text(frame),
        constant(batch_uid.bytes, UUID_TYPE, count),
        constant(_NO_PARENTS, pa.binary(), count),
    ]
    return encode(pa.table(columns, names=list(EVENT_COLUMNS)))
