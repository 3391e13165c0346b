"""The reference the column lane is compared with: the four row stages alone."""

from services.syncflow.tests.pipeline.typed_values import shape
from syncflow.domain import Record
from syncflow.pipeline.identity import Identity
from syncflow.pipeline.map import Mapper
from syncflow.pipeline.normalize import Normalizer
from syncflow.pipeline.validate import Validator


def row_wise(spec, raws):
    """The four row stages, one row at a time: the records and the failures."""
    records = [Record(raw=raw) for raw in raws]
    failures = []
    for stage in (
        Normalizer(spec).normalize,
        Validator(spec).validate,
        Mapper(spec).map,
        Identity(spec).assign,
    ):
        result = stage(records)
        records = result.records
        failures.extend(result.failures)
    return records, failures


def described(records, raw=id):
    """What a test compares of each record (``raw``: how the raw row is told apart)."""
    return [
        (
            raw(r.raw),
            {k: shape(v) for k, v in r.values.items()},
            {k: shape(v) for k, v in r.target.items()},
            shape(r.rowversion),
            r.key_hash,
            r.data_hash,
            r.parent_key_hashes,
        )
        for r in records
    ]
