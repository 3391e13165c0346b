"""The pure row stages of one entity composed: raw rows in, hashed records and failures out.

Normalize, validate, map and identity run in that order: over an Arrow page's columns
(:mod:`.frames.lane`) for the rows that lane can finish, row by row for the others
and for rows in JSON's form (parked children, failed records retried). Each
row that stops on the way becomes a :class:`RowFailure` carrying, where its business keys can be
read, the row's key hash (so a row that fails again updates its open failure,
and delete detection knows the row still exists in the source). Used by the
orchestration layer and by verify.
"""

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import polars as pl
import pyarrow as pa

from syncflow.domain import EntitySpec, Record, RowFailure, Stage
from syncflow.pipeline import identity
from syncflow.pipeline.frames.ahead import LanePayloads
from syncflow.pipeline.frames.lane import KEY, POSITION, FrameLane, LaneResult
from syncflow.pipeline.frames.records import records_of
from syncflow.pipeline.frames.rows import json_rows
from syncflow.pipeline.map import Mapper
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.validate import Validator


class PreparedPage(NamedTuple):
    """A chunk after the pure stages: the records the row-wise stages decided, the rows
    that failed, and (from an Arrow page) the rows the column lane finished."""

    records: list[Record]
    failures: list[RowFailure]
    lane: LaneResult | None = None
    # the lane's COPY payloads, when they were encoded ahead
    payloads: LanePayloads | None = None


class EntityPipeline:
    """The pure row stages of one entity, decided once and applied to every chunk."""

    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        normalizer, validator, mapper = Normalizer(spec), Validator(spec), Mapper(spec)
        self._stages = (
            (Stage.NORMALIZE, normalizer.normalize),
            (Stage.VALIDATE, validator.validate),
            (Stage.MAP, mapper.map),
            (Stage.IDENTITY, identity.Identity(spec).assign),
        )
        self._frames = FrameLane(spec, normalizer, validator, mapper)
        # reads only the business keys, to name the row of a failure that stopped earlier
        self._keys = Normalizer(replace(spec, fields=(), parent_refs=(), rowversion_field=None))

    def prepare(
        self, raws: Sequence[dict[str, Any]], seconds: dict[str, float]
    ) -> tuple[list[Record], list[RowFailure]]:
        """Rows in JSON's form -> records with hashes (in input order), and the rows that
        failed, decided row by row."""
        return self._run_stages([Record(raw=raw) for raw in raws], seconds)

    def prepare_page(
        self,
        data: Sequence[dict[str, Any]] | pa.Table,
        seconds: dict[str, float],
        *,
        as_records: bool,
    ) -> PreparedPage:
        """A page as it came from APISmith (an Arrow table or rows in JSON's form)
        through the stages (:meth:`prepare_table` or :meth:`prepare`)."""
        if isinstance(data, pa.Table):
            return self.prepare_table(data, seconds, as_records=as_records)
        return PreparedPage(*self.prepare(data, seconds))

    def lane_takes(self, schema: pa.Schema) -> bool:
        """Whether pages of this schema go through the column lane."""
        return self._frames.takes(schema)

    def prepare_table(
        self, table: pa.Table, seconds: dict[str, float], *, as_records: bool
    ) -> PreparedPage:
        """An Arrow page through the stages: its columns through the column lane where its
        schema allows, the rows the lane hands back (or the whole page) row by row.

        The lane's rows stay columns unless ``as_records`` (the caller's writes need
        records), the page repeats a key, or a key is both in the lane's rows and in
        the row-wise ones: delta then decides them all as records, in input order.
        """
        if not self.lane_takes(table.schema):
            return PreparedPage(*self.prepare(json_rows(table), seconds))
        lane = self._frames.run(table, seconds, time.perf_counter)
        decided: list[Record] = []
        failures: list[RowFailure] = []
        if lane.slow:
            again = [Record(raw=raw) for raw in json_rows(table, lane.slow)]
            decided, failures = self._run_stages(again, seconds)
        if not as_records and not self._tangled(lane, decided):
            return PreparedPage(decided, failures, lane)
        start = time.perf_counter()
        records = records_of(lane)
        if decided:
            positions = dict(zip(map(id, again), lane.slow, strict=True))
            placed = [*zip(lane.frame.get_column(POSITION).to_list(), records, strict=True)]
            placed.extend((positions[id(record)], record) for record in decided)
            records = [record for _, record in sorted(placed, key=lambda pair: pair[0])]
        seconds[Stage.IDENTITY] = seconds.get(Stage.IDENTITY, 0.0) + time.perf_counter() - start
        return PreparedPage(records, failures)

    @staticmethod
    def _tangled(lane: LaneResult, decided: list[Record]) -> bool:
        """Whether the page's keys need the row-wise delta: a key repeated among the
        lane's rows, or shared with a row the row-wise stages decided."""
        keys = lane.frame.get_column(KEY)
        if keys.is_duplicated().any():
            return True
        if not decided:
            return False
        others = pl.Series([bytes.fromhex(r.key_hash) for r in decided], dtype=pl.Binary)
        return bool(keys.is_in(others.implode()).any())

    def _run_stages(
        self, records: list[Record], seconds: dict[str, float]
    ) -> tuple[list[Record], list[RowFailure]]:
        failures: list[RowFailure] = []
        for stage, run in self._stages:
            start = time.perf_counter()
            result = run(records)
            seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start
            records = result.records
            failures.extend(result.failures)
        return records, [self._with_key(f) for f in failures]

    def _with_key(self, failure: RowFailure) -> RowFailure:
        if failure.key_hash:
            return failure
        result = self._keys.normalize([Record(raw=failure.raw)])
        if not result.records:
            return failure
        values = result.records[0].values
        try:
            key = identity.key_hash([values.get(name) for name in self.spec.business_keys])
        except (TypeError, ValueError):  # a key value without a canonical form
            return failure
        return replace(failure, key_hash=key)
