"""The pure row stages of one entity composed: raw rows in, hashed records and failures out.

Normalize, validate, map and identity run in that order; each row that stops on
the way becomes a :class:`RowFailure` carrying, where its business keys can be
read, the row's key hash (so a row that fails again updates its open failure,
and delete detection knows the row still exists in the source). Used by the
runner and by verify.
"""

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from syncflow.pipeline import identity
from syncflow.pipeline.map import Mapper
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.types import EntitySpec, Record, RowFailure, Stage
from syncflow.pipeline.validate import Validator


class EntityPipeline:
    """The pure row stages of one entity, decided once and applied to every chunk."""

    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        self._stages = (
            (Stage.NORMALIZE, Normalizer(spec).normalize),
            (Stage.VALIDATE, Validator(spec).validate),
            (Stage.MAP, Mapper(spec).map),
            (Stage.IDENTITY, identity.Identity(spec).assign),
        )
        # reads only the business keys, to name the row of a failure that stopped earlier
        self._keys = Normalizer(replace(spec, fields=(), parent_refs=(), rowversion_field=None))

    def prepare(
        self, raws: Sequence[dict[str, Any]], seconds: dict[str, float]
    ) -> tuple[list[Record], list[RowFailure]]:
        """Raw rows -> records with hashes, and the rows that failed on the way."""
        records = [Record(raw=raw) for raw in raws]
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
