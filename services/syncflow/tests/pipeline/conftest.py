"""Case-file driven tests for the pure pipeline stages.

A test marked ``@pytest.mark.cases("file.json", "section")`` and taking a ``case``
argument runs once per case in ``cases/file.json`` (under the top-level key
``section``). Values that JSON has no type for are written as one-key objects:
``{"$decimal": "1.50"}``, ``{"$date": "2025-12-08"}``,
``{"$timestamp": "2025-12-08T10:30:00+01:00"}``, ``{"$uuid": "..."}``.

``case_file(name)`` loads a whole file. ``make_spec`` builds an ``EntitySpec`` from
a compact description:
``{"columns": {"id": "integer", ...}, "business_keys": ["id"], "rowversion": "id",
"fields": [{"source_field", "target_field", "type", "transform", "default_value",
"required"}], "timezone": "Europe/Berlin", "normalization": {...},
"parent_refs": [{"parent_entity", "fields", "parent_fields"}]}``; without ``fields``
every column maps to itself with its API type.
"""

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from syncflow.domain import (
    API_TYPE_TO_FIELD_TYPE,
    ApiColumn,
    DeltaStrategy,
    EntitySpec,
    FieldSpec,
    FieldType,
    NormalizationOptions,
    ParentRef,
)

CASES_DIR = Path(__file__).parent / "cases"


def _typed(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key == "$decimal":
            return Decimal(value)
        if key == "$date":
            return date.fromisoformat(value)
        if key == "$timestamp":
            moment = datetime.fromisoformat(value)
            assert moment.tzinfo is not None, f"case timestamp without offset: {value}"
            return moment
        if key == "$uuid":
            return UUID(value)
    return obj


def load_cases(name: str) -> Any:
    return json.loads((CASES_DIR / name).read_text(encoding="utf-8"), object_hook=_typed)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cases(file, section=None): run the test once per case in cases/<file>"
    )


def pytest_generate_tests(metafunc):
    marker = metafunc.definition.get_closest_marker("cases")
    if marker is None or "case" not in metafunc.fixturenames:
        return
    data = load_cases(marker.args[0])
    cases = data[marker.args[1]] if len(marker.args) > 1 else data
    ids = [str(case.get("id", index)) for index, case in enumerate(cases)]
    metafunc.parametrize("case", cases, ids=ids)


def build_spec(description: dict[str, Any]) -> EntitySpec:
    columns = description["columns"]
    if "fields" in description:
        fields = tuple(
            FieldSpec(
                source_field=f["source_field"],
                target_field=f.get("target_field", f["source_field"]),
                type=FieldType(f["type"]),
                transform=f.get("transform"),
                default_value=f.get("default_value"),
                required=f.get("required", False),
            )
            for f in description["fields"]
        )
    else:
        fields = tuple(
            FieldSpec(name, name, API_TYPE_TO_FIELD_TYPE[data_type])
            for name, data_type in columns.items()
        )
    return EntitySpec(
        name=description.get("name", "items"),
        source_name="erp",
        api_slug="items",
        api_columns=tuple(ApiColumn(name, data_type) for name, data_type in columns.items()),
        business_keys=tuple(description.get("business_keys", [next(iter(columns))])),
        rowversion_field=description.get("rowversion"),
        delta_strategy=DeltaStrategy.HASH,
        target_schema="erp",
        target_table=description.get("name", "items"),
        page_size=1000,
        fields=fields,
        parent_refs=tuple(
            ParentRef(ref["parent_entity"], tuple(ref["fields"]), tuple(ref["parent_fields"]))
            for ref in description.get("parent_refs", [])
        ),
        source_timezone=description.get("timezone", "UTC"),
        normalization=NormalizationOptions(**description.get("normalization", {})),
    )


@pytest.fixture
def make_spec() -> Callable[[dict[str, Any]], EntitySpec]:
    return build_spec


@pytest.fixture
def case_file() -> Callable[[str], Any]:
    """``case_file(name)``: a whole case file, typed values decoded."""
    return load_cases
