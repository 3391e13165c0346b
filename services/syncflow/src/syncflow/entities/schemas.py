"""Request and response bodies of the entities API.

Names that become SQL identifiers (entity name, ``target_schema``, ``target_table``,
``target_field``) must match ``^[a-z_][a-z0-9_]*$`` and fit PostgreSQL's 63 bytes;
entity names stop at 59 characters so that a child's ``<parent>_uid`` column fits.
"""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints, field_validator

from bridge_core.schemas import RequestModel
from syncflow.domain import DeleteMode, DeltaStrategy, FieldType

IDENTIFIER_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
ENTITY_NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,58}$"
TRANSFORM_NAMES = ("trim", "upper", "lower")
DEFAULT_PAGE_SIZE = 10_000
MAX_PAGE_SIZE = 100_000

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
EntityName = Annotated[str, StringConstraints(pattern=ENTITY_NAME_PATTERN)]
Transform = str | dict[str, Any] | None


def _check_transform(value: Transform) -> Transform:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in TRANSFORM_NAMES:
            raise ValueError(
                f"transform must be one of {', '.join(TRANSFORM_NAMES)} or a value map"
            )
        return value
    if not isinstance(value.get("map"), dict) or not set(value) <= {"map", "default"}:
        raise ValueError('a value map transform is {"map": {...}, "default": ...}')
    return value


class FieldMapping(RequestModel):
    """One source (API) field loaded into one target column."""

    source_field: str = Field(min_length=1, description="an output column of the API")
    target_field: Identifier | None = Field(
        default=None, description="target column; default: source_field in lower case"
    )
    type: FieldType | None = Field(default=None, description="default: from the API column type")
    transform: Transform = Field(
        default=None, description='"trim", "upper", "lower" or {"map": {...}, "default": ...}'
    )
    default_value: Any = Field(default=None, description="used when the source value is NULL")
    required: bool = Field(default=False, description="a row without a value fails")

    @field_validator("transform")
    @classmethod
    def _known_transform(cls, value: Transform) -> Transform:
        return _check_transform(value)


class ParentRefBody(RequestModel):
    """The child's source ``fields`` hold the parent entity's business keys, in order."""

    parent_entity: EntityName
    fields: list[str] = Field(min_length=1)
    parent_fields: list[str] | None = Field(
        default=None, description="the parent's business keys in order (the default)"
    )


class DeletePolicy(RequestModel):
    mode: DeleteMode = DeleteMode.SOFT
    max_ratio: float = Field(
        default=0.05, ge=0, le=1, description="a run that would delete more applies no deletes"
    )


class EntityBody(RequestModel):
    """An entity definition; every key left out (or null) defaults from the API's metadata."""

    name: EntityName | None = Field(default=None, description="on PUT: omit or repeat the name")
    source: str = Field(min_length=1, description="source name or uid")
    api_slug: str = Field(min_length=1)
    business_keys: list[str] | None = Field(default=None, min_length=1)
    rowversion_field: str | None = None
    delta_strategy: DeltaStrategy | None = None
    target_schema: Identifier | None = None
    target_table: Identifier | None = None
    page_size: int | None = Field(default=None, ge=1, le=MAX_PAGE_SIZE)
    rowversion_lookback: float | None = Field(
        default=None,
        ge=0,
        description="incremental runs re-read this far below the cursor (numbers: units; "
        "timestamps: seconds) to catch rows that commit late; default 0",
    )
    field_mappings: list[FieldMapping] | None = Field(default=None, min_length=1)
    parent_refs: list[ParentRefBody] = Field(default_factory=list)
    delete_policy: DeletePolicy | None = None


class EntityCreate(EntityBody):
    name: EntityName


class ResolvedField(BaseModel):
    source_field: str
    target_field: str
    type: FieldType
    transform: Transform = None
    default_value: Any = None
    required: bool = False


class ResolvedParentRef(BaseModel):
    parent_entity: str
    fields: list[str]
    parent_fields: list[str]


class EntityDefinition(BaseModel):
    """An entity with every default resolved: what is stored and what the runner reads."""

    name: str
    source: str
    api_slug: str
    api_version: int | None
    business_keys: list[str]
    rowversion_field: str | None
    delta_strategy: DeltaStrategy
    target_schema: str
    target_table: str
    page_size: int
    rowversion_lookback: float = 0
    field_mappings: list[ResolvedField]
    parent_refs: list[ResolvedParentRef]
    delete_policy: DeletePolicy


class ApiColumnOut(BaseModel):
    name: str
    data_type: str
    nullable: bool


class EntityOut(EntityDefinition):
    uid: UUID
    source_uid: UUID
    api_columns: list[ApiColumnOut]
    created_at: datetime
    updated_at: datetime


class EntityChange(EntityOut):
    """An entity after create or update, with what happened to its target table."""

    table_created: bool
    added_columns: list[str]
    retained_columns: list[str] = Field(
        description="columns of the target table no longer mapped: kept, never dropped"
    )
