"""Validate: the rules a normalized row must meet before it is mapped.

Every business key has a value (a row without its key cannot be identified); a
``required`` field has a value unless the mapping gives it a default; a value headed
for an ``integer`` field fits PostgreSQL ``bigint``. A row that breaks any rule stops
here with one ``validate`` failure listing every broken rule. Conversions between
types (and their failures) belong to map.
"""

from collections.abc import Sequence
from typing import Any

from syncflow.domain import (
    BIGINT_MAX,
    BIGINT_MIN,
    EntitySpec,
    FieldType,
    Record,
    RowFailure,
    Stage,
    StageResult,
)


class Validator:
    """Checks one entity's normalized records (``record.values``)."""

    def __init__(self, spec: EntitySpec) -> None:
        self.keys = spec.business_keys
        required = dict.fromkeys(
            f.source_field
            for f in spec.fields
            if f.required and f.default_value is None and f.source_field not in spec.business_keys
        )
        self.required = tuple(required)
        # integers that map copies as they are (a value map decides its own values)
        self.bigint = tuple(
            dict.fromkeys(
                f.source_field
                for f in spec.fields
                if f.type is FieldType.INTEGER
                and spec.value_type(f.source_field) is FieldType.INTEGER
                and not isinstance(f.transform, dict)
            )
        )

    def validate(self, records: Sequence[Record]) -> StageResult:
        """The records that meet every rule, and one ``validate`` failure for each other."""
        keys, required, bigint = self.keys, self.required, self.bigint
        kept: list[Record] = []
        failures: list[RowFailure] = []
        for record in records:
            values = record.values
            ok = True
            for name in keys:
                if values.get(name) is None:
                    ok = False
            for name in required:
                if values.get(name) is None:
                    ok = False
            for name in bigint:
                value = values.get(name)
                if value is not None and not BIGINT_MIN <= value <= BIGINT_MAX:
                    ok = False
            if ok:
                kept.append(record)
            else:
                failures.append(
                    RowFailure(stage=Stage.VALIDATE, error=self._problems(values), raw=record.raw)
                )
        return StageResult(records=kept, failures=failures)

    def _problems(self, values: dict[str, Any]) -> str:
        problems = []
        missing_keys = [name for name in self.keys if values.get(name) is None]
        if len(missing_keys) == 1:
            problems.append(
                f"business key {missing_keys[0]} is NULL (every row needs {', '.join(self.keys)})"
            )
        elif missing_keys:
            problems.append(
                f"business keys {', '.join(missing_keys)} are NULL "
                f"(every row needs {', '.join(self.keys)})"
            )
        problems.extend(
            f"required field {name} is NULL" for name in self.required if values.get(name) is None
        )
        for name in self.bigint:
            value = values.get(name)
            if value is not None and not BIGINT_MIN <= value <= BIGINT_MAX:
                problems.append(f"{name}: {value} is out of range for integer (bigint)")
        return "; ".join(problems)
