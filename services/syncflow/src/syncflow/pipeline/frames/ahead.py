"""The COPY payloads of a lane's page, encoded ahead in the thread that prepared it."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import pyarrow as pa

from syncflow.domain import EntitySpec
from syncflow.pipeline.frames.copy_binary import keys_payload, new_uids, rows_payload, seen_payload
from syncflow.pipeline.frames.lane import LaneResult


@dataclass(frozen=True, slots=True)
class LanePayloads:
    """A lane's COPY payloads, encoded ahead for the write the target's state calls for:
    every row (with the ``uids`` it gives them) and its seen keys for a first load, the
    key sort's rows otherwise. The writer encodes what it lacks."""

    rows: bytes | None = None
    uids: pa.Array | None = None
    seen: bytes | None = None
    keys: bytes | None = None


def encode_ahead(
    lane: LaneResult,
    spec: EntitySpec,
    *,
    batch_uid: UUID,
    now: datetime,
    fresh: bool,
    seen: bool,
    known: bool = False,
) -> LanePayloads:
    """The payloads the chunk's write will most likely need (``fresh``: the target was
    empty as the batch started and no key has turned up twice since; ``known``: the
    batch's known rows decide most keys, ``known.py``, and the rest are sorted by the
    target)."""
    frame = lane.frame
    if frame.is_empty():
        return LanePayloads()
    if not fresh:
        if known:
            return LanePayloads(seen=seen_payload(frame) if seen else None)
        return LanePayloads(keys=keys_payload(frame))
    uids = new_uids(frame.height)
    return LanePayloads(
        rows=rows_payload(lane, spec, frame, uids=uids, batch_uid=batch_uid, now=now),
        uids=uids,
        seen=seen_payload(frame) if seen else None,
    )
