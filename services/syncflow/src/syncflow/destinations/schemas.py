"""Request and response bodies of the destinations API (credentials are never returned)."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

DESTINATION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,149}$"
MAX_PAGE_SIZE = 200
MAX_BATCH_SIZE = 5000
MAX_TIMEOUT_S = 600
MAX_SECRETS = 5

# a destination's plain settings: what an update may change besides ``enabled`` and the
# credentials (stored encrypted), and what the console's form shows besides the name
SETTING_FIELDS = (
    "kind",
    "url",
    "entities",
    "api_prefix",
    "entity_paths",
    "username",
    "batch_size",
    "timeout_s",
)

DestinationName = Annotated[str, StringConstraints(pattern=DESTINATION_NAME_PATTERN)]
DestinationKind = Literal["schedulehub", "webhook"]
EntityName = Annotated[str, StringConstraints(min_length=1, max_length=150)]
EntityPath = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")]


class DestinationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DestinationName = Field(description="letters, digits, '.', '_', '-'")
    kind: DestinationKind
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="ScheduleHub's root URL, or the webhook endpoint (https; http on loopback)",
    )
    entities: list[EntityName] = Field(
        default_factory=list, max_length=500, description="entity names delivered; empty = all"
    )
    api_prefix: str = Field(default="/api/v1", max_length=200, description="schedulehub only")
    entity_paths: dict[EntityName, EntityPath] = Field(
        default_factory=dict, description="schedulehub: path per entity (default: its name)"
    )
    username: str | None = Field(default=None, min_length=1, max_length=200)
    password: SecretStr | None = Field(default=None, description="stored encrypted")
    token: SecretStr | None = Field(default=None, description="stored encrypted")
    secrets: list[SecretStr] = Field(
        default_factory=list,
        max_length=MAX_SECRETS,
        description="webhook signing secrets ('whsec_' + base64); every one signs, for rotation",
    )
    batch_size: int = Field(default=500, ge=1, le=MAX_BATCH_SIZE)
    timeout_s: int = Field(default=30, ge=1, le=MAX_TIMEOUT_S)
    enabled: bool = True


class DestinationUpdate(BaseModel):
    """Change settings or rotate credentials; a key left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    entities: list[EntityName] | None = Field(default=None, max_length=500)
    api_prefix: str | None = Field(default=None, max_length=200)
    entity_paths: dict[EntityName, EntityPath] | None = None
    username: str | None = Field(default=None, min_length=1, max_length=200)
    password: SecretStr | None = None
    token: SecretStr | None = None
    secrets: list[SecretStr] | None = Field(default=None, max_length=MAX_SECRETS)
    batch_size: int | None = Field(default=None, ge=1, le=MAX_BATCH_SIZE)
    timeout_s: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_S)
    enabled: bool | None = None


class DestinationPause(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="paused by an operator", min_length=1, max_length=2000)


class DestinationOut(BaseModel):
    uid: UUID
    name: str
    kind: DestinationKind
    url: str
    entities: list[str]
    api_prefix: str
    entity_paths: dict[str, str]
    username: str | None
    has_password: bool = Field(description="the password itself is never returned")
    has_token: bool = Field(description="the token itself is never returned")
    secret_count: int = Field(description="how many webhook secrets sign (never returned)")
    batch_size: int
    timeout_s: int
    enabled: bool
    paused: bool
    paused_at: datetime | None
    pause_reason: str | None
    created_at: datetime
    updated_at: datetime


class DestinationPage(BaseModel):
    items: list[DestinationOut]
    total: int
    page: int
    page_size: int
