"""Request and response bodies of the sources API (a source's token is never returned)."""

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from bridge_core.schemas import RequestModel

SOURCE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,149}$"

SourceName = Annotated[str, StringConstraints(pattern=SOURCE_NAME_PATTERN)]


def _header_safe(token: SecretStr | None) -> SecretStr | None:
    """The token travels in an ``Authorization`` header: visible ASCII only."""
    if token is not None and not re.fullmatch(r"[\x21-\x7e]{1,4096}", token.get_secret_value()):
        raise ValueError("token must be 1 to 4096 visible ASCII characters (no spaces)")
    return token


SourceToken = Annotated[SecretStr, AfterValidator(_header_safe)]


class SourceCreate(RequestModel):
    name: SourceName = Field(description="letters, digits, '.', '_', '-'; entities refer to it")
    base_url: str = Field(
        min_length=1, max_length=2000, description="APISmith's root URL, e.g. http://127.0.0.1:8007"
    )
    token: SourceToken = Field(description="an APISmith service token; stored encrypted")


class SourceUpdate(RequestModel):
    """Change the URL or rotate the token; a key left out keeps its value."""

    base_url: str | None = Field(default=None, min_length=1, max_length=2000)
    token: SourceToken | None = None


class SourceOut(BaseModel):
    uid: UUID
    name: str
    base_url: str
    has_token: bool = Field(default=True, description="the token itself is never returned")
    created_at: datetime
    updated_at: datetime


class ApiSmithPrincipal(BaseModel):
    """Who APISmith says the source's token belongs to."""

    model_config = ConfigDict(extra="ignore")

    uid: str | None = None
    name: str
    role: str | None = None
    kind: str | None = None


class SourceTest(BaseModel):
    ok: bool
    latency_ms: float
    apismith_version: str | None
    principal: ApiSmithPrincipal


class DiscoveredColumn(BaseModel):
    name: str
    data_type: str
    nullable: bool


class DiscoveredApi(BaseModel):
    """One of APISmith's APIs with what an entity needs to know about it."""

    slug: str
    name: str | None = None
    description: str | None = None
    version: int | None = None
    is_active: bool | None = None
    columns: list[DiscoveredColumn]
    business_keys: list[str]
    rowversion_column: str | None
    delta_strategy: str | None
    params: list[dict[str, Any]] = Field(default_factory=list)
    entities: list[str] = Field(
        default_factory=list, description="SyncFlow entities of this source that read this API"
    )
