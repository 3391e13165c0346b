"""The pure row stages of one entity composed: raw rows in, hashed records and failures out.

Normalize, validate, map and identity run in that order: a column at a time
(:mod:`.columnar`) for the rows that lane can finish, row by row for the others. Each
row that stops on the way becomes a :class:`RowFailure` carrying, where its business keys can be
read, the row's key hash (so a row that fails again updates its open failure,
and delete detection knows the row still exists in the source). Used by the
orchestration layer and by verify.
"""

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from syncflow.domain import EntitySpec, Record, RowFailure, Stage
from syncflow.pipeline import identity
from syncflow.pipeline.columnar import ColumnarLane
from syncflow.pipeline.map import Mapper
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.validate import Validator


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
        self._columnar = ColumnarLane(spec, normalizer, validator, mapper)
        # reads only the business keys, to name the row of a failure that stopped earlier
        self._keys = Normalizer(replace(spec, fields=(), parent_refs=(), rowversion_field=None))

    def prepare(
        self, raws: Sequence[dict[str, Any]], seconds: dict[str, float]
    ) -> tuple[list[Record], list[RowFailure]]:
        """Raw rows -> records with hashes (in input order), and the rows that failed.

        The columnar lane does the chunk; the rows it hands back are decided row by row.
        """
        placed, slow = self._columnar.run(raws, seconds, time.perf_counter)
        if not slow:
            return [r for r in placed if r is not None], []
        again = {index: Record(raw=raws[index]) for index in sorted(slow)}
        decided, failures = self._run_stages(list(again.values()), seconds)
        kept = {id(record) for record in decided}
        for index, record in again.items():
            placed[index] = record if id(record) in kept else None
        return [r for r in placed if r is not None], failures

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
        key = identity.key_hash([values.get(name) for name in self.spec.business_keys])
        return replace(failure, key_hash=key)
