"""Request and response bodies of the APIs endpoints: a saved query and its metadata."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bridge_core.schemas import RequestModel

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"

ParamType = Literal["string", "integer", "number", "boolean", "date", "timestamp"]
DeltaStrategy = Literal["full", "rowversion", "hash"]


class ApiParam(RequestModel):
    """A parameter the SQL uses as ``:name``; callers pass it in ``params``."""

    name: str = Field(min_length=1, max_length=100)
    type: ParamType = "string"
    required: bool = False
    default: Any = Field(default=None, description="used when a caller passes no value")


class ApiIn(RequestModel):
    """A whole API definition (create, and PUT, which replaces every field)."""

    slug: str = Field(
        pattern=SLUG_PATTERN,
        description="lowercase letters, digits, _ and -; the runtime path /runtime/{slug}",
    )
    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    connection_uid: uuid.UUID
    sql: str = Field(min_length=1, description="one read-only SELECT; parameters as :name")
    params: list[ApiParam] = Field(default_factory=list)
    business_keys: list[str] = Field(
        default_factory=list, description="output columns that identify a row"
    )
    rowversion_column: str | None = Field(
        default=None, description="output column that grows whenever a row changes"
    )
    delta_strategy: DeltaStrategy = "full"
    is_active: bool = True


class ColumnOut(BaseModel):
    name: str
    data_type: str
    nullable: bool


class ApiDefinition(ApiIn):
    """A definition as saved: what was sent, plus the output columns discovered then."""

    # read back from stored rows, which carry more than a request may
    model_config = ConfigDict(extra="ignore")

    columns: list[ColumnOut]


class ApiOut(ApiDefinition):
    uid: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime


class ApiPage(BaseModel):
    items: list[ApiOut]
    total: int
    page: int
    page_size: int


class ApiVersionOut(BaseModel):
    version: int
    definition: ApiDefinition
    created_by: str | None
    created_at: datetime
