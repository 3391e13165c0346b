"""The column lane's rows as :class:`Record` objects, for the writes that need rows.

Most rows of a page go from the lane to the target as columns. Rows that change a
target row, every row of an entity with parent refs or whose changes go to the
outbox, and every row of a dry run are decided by the row-wise delta, resolve and
load, which work on records; this builds them, with the same values, hashes and raw
row the row-wise stages would have given.
"""

import polars as pl

from syncflow.domain import Record
from syncflow.pipeline.frames.lane import DATA, KEY, POSITION, LaneResult, parent_key
from syncflow.pipeline.frames.rows import json_rows


def hex_keys(frame: pl.DataFrame, column: str = KEY) -> list[str]:
    """A hash column as lowercase hex text (how records and tracking hold hashes)."""
    return frame.get_column(column).bin.encode("hex").to_list()


def records_of(lane: LaneResult) -> list[Record]:
    """The lane's rows as records, in input order."""
    frame = lane.frame
    if frame.is_empty():
        return []
    raws = json_rows(lane.source, frame.get_column(POSITION).to_list())
    values = frame.select(lane.sources).to_dicts()
    targets = frame.select(lane.target_columns()).to_dicts()
    keys, datas = hex_keys(frame), hex_keys(frame, DATA)
    refs: list[dict[str, str]] = [{} for _ in range(frame.height)]
    for entity in lane.parents:
        for ref, hashed in zip(refs, hex_keys(frame, parent_key(entity)), strict=True):
            if hashed is not None:
                ref[entity] = hashed
    return [
        Record(
            raw=raw,
            values=value,
            target=target,
            rowversion=None if lane.rowversion is None else value.get(lane.rowversion),
            key_hash=key,
            data_hash=data,
            parent_key_hashes=ref,
        )
        for raw, value, target, key, data, ref in zip(
            raws, values, targets, keys, datas, refs, strict=True
        )
    ]
