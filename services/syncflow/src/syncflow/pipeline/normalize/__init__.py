"""Normalize: raw APISmith rows -> clean, typed source values (``Record.values``).

Layers, in the order a value meets them: type coercion (:mod:`.coerce`, which routes
text through :mod:`.strings` and then :mod:`.numerics` or :mod:`.datetimes`); field
mapping is the next stage (``syncflow.pipeline.map``). A :class:`Normalizer` is built
once per entity: it decides each field's converter up front, so a row costs one call
per field and already-clean values take the fast paths. docs/normalization.md has the
accepted formats and the rules for ambiguous text.
"""

from collections.abc import Sequence
from typing import Any

from syncflow.domain import EntitySpec, FieldType, Record, RowFailure, Stage, StageResult
from syncflow.pipeline.normalize.coerce import Converter, converter
from syncflow.pipeline.normalize.datetimes import DateTimeReader

__all__ = ["Normalizer"]

# how much of a bad value a failure message shows
_SHOWN_CHARACTERS = 80


class Normalizer:
    """Fills ``record.values`` (every source field the entity uses, typed) and
    ``record.rowversion``. Columns the entity does not use are not read, so a bad value
    there never fails a row."""

    def __init__(self, spec: EntitySpec) -> None:
        """Decide every field's converter; ``ValueError`` for an unknown source timezone."""
        reader = DateTimeReader(
            spec.source_timezone, slash_day_first=spec.normalization.slash_day_first
        )
        self.plan: tuple[tuple[str, Converter], ...] = tuple(
            (
                name,
                converter(
                    spec.value_type(name),
                    reader=reader,
                    decimal_comma=spec.normalization.decimal_comma,
                ),
            )
            for name in spec.source_fields()
        )
        self.value_types: dict[str, FieldType] = {
            name: spec.value_type(name) for name in spec.source_fields()
        }
        self._rowversion = spec.rowversion_field

    def normalize(self, records: Sequence[Record]) -> StageResult:
        """The records whose every value converted (``values`` filled), and one
        ``normalize`` failure for each other row, naming the first bad field."""
        plan = self.plan
        rowversion = self._rowversion
        kept: list[Record] = []
        failures: list[RowFailure] = []
        for record in records:
            raw = record.raw
            try:
                values = {name: convert(raw.get(name)) for name, convert in plan}
            except (ValueError, TypeError, ArithmeticError):
                failures.append(self._failure(record))
                continue
            record.values = values
            if rowversion is not None:
                record.rowversion = values[rowversion]
            kept.append(record)
        return StageResult(records=kept, failures=failures)

    def _failure(self, record: Record) -> RowFailure:
        """The failure for a row the fast path gave up on: find the first bad field."""
        for name, convert in self.plan:
            value = record.raw.get(name)
            try:
                convert(value)
            except (ValueError, TypeError, ArithmeticError) as exc:
                error = f"{name}: expected {self.value_types[name]}, got {shown(value)} ({exc})"
                return RowFailure(stage=Stage.NORMALIZE, error=error, raw=record.raw)
        raise AssertionError("a row failed to normalize but every field converts")


def shown(value: Any) -> str:
    """``repr(value)``, cut to a length a message can carry."""
    text = repr(value)
    if len(text) <= _SHOWN_CHARACTERS:
        return text
    return text[: _SHOWN_CHARACTERS - 3] + "..."
