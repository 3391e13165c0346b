"""The COPY payloads of a lane's page, encoded ahead in the thread that prepared it."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import pyarrow as pa

from syncflow.domain import EntitySpec
from syncflow.pipeline.frames import events
from syncflow.pipeline.frames.copy_binary import new_uids, rows_payload, seen_payload
from syncflow.pipeline.frames.lane import LaneResult


@dataclass(frozen=True, slots=True)
class LanePayloads:
    """A lane's COPY payloads, encoded ahead for the write the target's state calls for:
    every row (with the ``uids`` it gives them), its seen keys and, for a first load,
    its ``insert`` events. The writer encodes what it lacks."""

    rows: bytes | None = None
    uids: pa.Array | None = None
    seen: bytes | None = None
    events: bytes | None = None


def encode_ahead(
    lane: LaneResult,
    spec: EntitySpec,
    *,
    batch_uid: UUID,
    now: datetime,
    fresh: bool,
    seen: bool,
    outbox: bool,
    known: bool = False,
) -> LanePayloads:
    """The payloads the chunk's write will most likely need (``fresh``: the target was
    empty as the batch started and no key has turned up twice since; ``outbox``: the
    entity's changes go to the outbox; ``known``: the batch's known rows will call
    most rows unchanged, ``known.py``, so the rows are not encoded ahead)."""
    frame = lane.frame
    if frame.is_empty():
        return LanePayloads()
    seen_keys = seen_payload(frame, batch_uid) if seen else None
    if known:
        return LanePayloads(seen=seen_keys)
    uids = new_uids(frame.height)
    rows = rows_payload(lane, spec, frame, uids=uids, batch_uid=batch_uid, now=now)
    if not fresh:
        return LanePayloads(rows=rows, uids=uids, seen=seen_keys)
    return LanePayloads(
        rows=rows,
        uids=uids,
        seen=seen_keys,
        events=(
            events.events_payload(spec.name, frame, uids, operation="insert", batch_uid=batch_uid)
            if outbox
            else None
        ),
    )
