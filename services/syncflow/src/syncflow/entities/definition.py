"""Resolving an entity body against its API's metadata: defaults filled in, problems named.

Pure (no I/O). The service fetches the API's metadata from APISmith and reads the
other entities, then calls :func:`resolve_definition`, which returns the complete
definition or raises one 422 that lists every problem it found.

Defaults: ``business_keys``, ``rowversion_field`` (the API's ``rowversion_column``)
and ``delta_strategy`` from the API; ``target_schema`` ``"erp"``; ``target_table`` the
entity name; ``page_size`` 10000; ``delete_policy`` soft with ``max_ratio`` 0.05;
without ``field_mappings`` every API column becomes a field of the same name (folded
to lower case) with the type that ``API_TYPE_TO_FIELD_TYPE`` gives its data type.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge_core.errors import Unprocessable
from syncflow.domain import (
    API_TYPE_TO_FIELD_TYPE,
    BRIDGE_PREFIX,
    ApiColumn,
    DeltaStrategy,
    EntitySpec,
    FieldSpec,
    FieldType,
    ParentRef,
    parent_column,
)
from syncflow.domain import (
    DeletePolicy as SpecDeletePolicy,
)
from syncflow.entities.schemas import (
    DEFAULT_PAGE_SIZE,
    IDENTIFIER_PATTERN,
    DeletePolicy,
    EntityBody,
    EntityDefinition,
    ResolvedField,
    ResolvedParentRef,
)
from syncflow.pipeline.load import WORK_SCHEMA

# a bridge table in the same database as these would be confused with them
DEFAULT_TARGET_SCHEMA = "erp"
_RESERVED_SCHEMAS = frozenset({"information_schema", WORK_SCHEMA})
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_LISTED_COLUMNS = 30


@dataclass(frozen=True)
class ApiMetadata:
    """What an entity needs from an APISmith API (``GET /apis/slug/{slug}``)."""

    slug: str
    version: int | None
    columns: tuple[ApiColumn, ...]
    business_keys: tuple[str, ...]
    rowversion_column: str | None
    delta_strategy: DeltaStrategy | None

    def has_column(self, name: str) -> bool:
        return any(column.name == name for column in self.columns)

    def column_type(self, name: str) -> str:
        return next((c.data_type for c in self.columns if c.name == name), "string")

    def column_list(self) -> str:
        names = [column.name for column in self.columns]
        more = len(names) - _LISTED_COLUMNS
        return ", ".join(names[:_LISTED_COLUMNS]) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class KnownEntity:
    """Another entity, as far as parent refs and target tables need it."""

    name: str
    business_keys: tuple[str, ...]
    parents: tuple[str, ...]
    target_schema: str
    target_table: str


def api_metadata(raw: Mapping[str, Any], columns: Sequence[ApiColumn]) -> ApiMetadata:
    """:class:`ApiMetadata` from APISmith's API object and its parsed ``columns``."""
    strategy = raw.get("delta_strategy")
    version = raw.get("version")
    rowversion = raw.get("rowversion_column")
    return ApiMetadata(
        slug=str(raw.get("slug")),
        version=version if isinstance(version, int) else None,
        columns=tuple(columns),
        business_keys=tuple(str(key) for key in raw.get("business_keys") or ()),
        rowversion_column=str(rowversion) if rowversion else None,
        delta_strategy=_strategy(strategy),
    )


def _strategy(value: Any) -> DeltaStrategy | None:
    try:
        return DeltaStrategy(value)
    except ValueError:
        return None


class _Problems:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_any(self) -> None:
        if self.messages:
            raise Unprocessable("; ".join(self.messages))


def _check_columns(problems: _Problems, api: ApiMetadata, key: str, names: Sequence[str]) -> None:
    for name in names:
        if not api.has_column(name):
            problems.add(
                f"{key}: {name!r} is not a column of API {api.slug!r} "
                f"(columns: {api.column_list()})"
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.add(f"{key}: {', '.join(duplicates)} named more than once")


def _default_target_field(problems: _Problems, source_field: str) -> str:
    folded = source_field.lower()
    if not _IDENTIFIER.match(folded):
        problems.add(
            f"field_mappings: API column {source_field!r} cannot be a target column name "
            f"(names must match {IDENTIFIER_PATTERN}); map it to a target_field"
        )
    return folded


def _fields(problems: _Problems, body: EntityBody, api: ApiMetadata) -> list[ResolvedField]:
    if body.field_mappings is None:
        return [
            ResolvedField(
                source_field=column.name,
                target_field=_default_target_field(problems, column.name),
                type=API_TYPE_TO_FIELD_TYPE.get(column.data_type, FieldType.TEXT),
            )
            for column in api.columns
        ]
    _check_columns(
        problems, api, "field_mappings.source_field", [m.source_field for m in body.field_mappings]
    )
    return [
        ResolvedField(
            source_field=mapping.source_field,
            target_field=mapping.target_field
            or _default_target_field(problems, mapping.source_field),
            type=mapping.type
            or API_TYPE_TO_FIELD_TYPE.get(api.column_type(mapping.source_field), FieldType.TEXT),
            transform=mapping.transform,
            default_value=mapping.default_value,
            required=mapping.required,
        )
        for mapping in body.field_mappings
    ]


def _reaches(start: str, goal: str, others: Mapping[str, KnownEntity]) -> bool:
    """Whether ``goal`` is ``start`` or one of its ancestors."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        current = stack.pop()
        if current == goal:
            return True
        if current in seen or current not in others:
            continue
        seen.add(current)
        stack.extend(others[current].parents)
    return False


def _parent_refs(
    problems: _Problems,
    body: EntityBody,
    *,
    name: str,
    api: ApiMetadata,
    others: Mapping[str, KnownEntity],
) -> list[ResolvedParentRef]:
    resolved = []
    parents = [ref.parent_entity for ref in body.parent_refs]
    for repeated in sorted({p for p in parents if parents.count(p) > 1}):
        problems.add(f"parent_refs: {repeated!r} is referenced more than once")
    for ref in body.parent_refs:
        key = f"parent_refs[{ref.parent_entity}]"
        _check_columns(problems, api, f"{key}.fields", ref.fields)
        if ref.parent_entity == name:
            problems.add(f"{key}: an entity cannot be its own parent")
            continue
        parent = others.get(ref.parent_entity)
        if parent is None:
            problems.add(f"{key}: entity {ref.parent_entity!r} does not exist")
            continue
        if _reaches(ref.parent_entity, name, others):
            problems.add(f"{key}: {ref.parent_entity!r} already descends from {name!r} (a cycle)")
        parent_fields = ref.parent_fields or list(parent.business_keys)
        if len(parent_fields) != len(ref.fields):
            problems.add(f"{key}: {len(ref.fields)} fields but {len(parent_fields)} parent_fields")
        if tuple(parent_fields) != parent.business_keys:
            problems.add(
                f"{key}: parent_fields {parent_fields} must be the business keys of "
                f"{ref.parent_entity!r} in order: {list(parent.business_keys)}"
            )
        resolved.append(
            ResolvedParentRef(
                parent_entity=ref.parent_entity, fields=ref.fields, parent_fields=parent_fields
            )
        )
    return resolved


def _check_target_fields(
    problems: _Problems, fields: Sequence[ResolvedField], parents: Sequence[ResolvedParentRef]
) -> None:
    names = [f.target_field for f in fields]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.add(f"field_mappings: target_field {duplicate!r} is used more than once")
    for field in names:
        if field.startswith(BRIDGE_PREFIX):
            problems.add(f"field_mappings: target_field {field!r}: {BRIDGE_PREFIX}* is reserved")
    for ref in parents:
        column = parent_column(ref.parent_entity)
        if column in names:
            problems.add(
                f"field_mappings: target_field {column!r} is the column of parent ref "
                f"{ref.parent_entity!r}"
            )


def resolve_definition(
    body: EntityBody,
    *,
    name: str,
    source_name: str,
    api: ApiMetadata,
    others: Mapping[str, KnownEntity],
) -> EntityDefinition:
    """The complete definition of entity ``name`` (defaults applied), or one 422 naming
    every problem. ``others`` are the other entities (not ``name`` itself)."""
    problems = _Problems()
    if not api.columns:
        raise Unprocessable(f"API {api.slug!r} reports no columns")
    business_keys = list(body.business_keys or api.business_keys)
    if not business_keys:
        problems.add(f"business_keys: API {api.slug!r} defines none; set business_keys")
    _check_columns(problems, api, "business_keys", business_keys)
    rowversion = body.rowversion_field or api.rowversion_column
    if rowversion is not None:
        _check_columns(problems, api, "rowversion_field", [rowversion])
    strategy = body.delta_strategy or api.delta_strategy
    if strategy is None:
        strategy = DeltaStrategy.ROWVERSION if rowversion else DeltaStrategy.HASH
    if strategy is DeltaStrategy.ROWVERSION and rowversion is None:
        problems.add("delta_strategy: 'rowversion' needs a rowversion_field")
    schema = body.target_schema or DEFAULT_TARGET_SCHEMA
    if schema.startswith("pg_") or schema in _RESERVED_SCHEMAS:
        problems.add(f"target_schema: {schema!r} is reserved")
    fields = _fields(problems, body, api)
    parent_refs = _parent_refs(problems, body, name=name, api=api, others=others)
    _check_target_fields(problems, fields, parent_refs)
    problems.raise_any()
    return EntityDefinition(
        name=name,
        source=source_name,
        api_slug=api.slug,
        api_version=api.version,
        business_keys=business_keys,
        rowversion_field=rowversion,
        delta_strategy=strategy,
        target_schema=schema,
        target_table=body.target_table or name,
        page_size=body.page_size or DEFAULT_PAGE_SIZE,
        rowversion_lookback=body.rowversion_lookback or 0,
        field_mappings=fields,
        parent_refs=parent_refs,
        delete_policy=body.delete_policy or DeletePolicy(),
    )


def to_spec(
    definition: EntityDefinition, api_columns: Sequence[ApiColumn], *, source_timezone: str
) -> EntitySpec:
    """The pipeline's view of a resolved definition."""
    return EntitySpec(
        name=definition.name,
        source_name=definition.source,
        api_slug=definition.api_slug,
        api_columns=tuple(api_columns),
        business_keys=tuple(definition.business_keys),
        rowversion_field=definition.rowversion_field,
        delta_strategy=definition.delta_strategy,
        target_schema=definition.target_schema,
        target_table=definition.target_table,
        page_size=definition.page_size,
        rowversion_lookback=definition.rowversion_lookback,
        fields=tuple(
            FieldSpec(
                source_field=f.source_field,
                target_field=f.target_field,
                type=f.type,
                transform=f.transform,
                default_value=f.default_value,
                required=f.required,
            )
            for f in definition.field_mappings
        ),
        parent_refs=tuple(
            ParentRef(
                parent_entity=ref.parent_entity,
                fields=tuple(ref.fields),
                parent_fields=tuple(ref.parent_fields),
            )
            for ref in definition.parent_refs
        ),
        delete_policy=SpecDeletePolicy(
            mode=definition.delete_policy.mode, max_ratio=definition.delete_policy.max_ratio
        ),
        source_timezone=source_timezone,
    )
