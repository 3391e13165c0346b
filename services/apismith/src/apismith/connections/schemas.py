"""Request and response bodies of the connections endpoints (a URL only ever goes out masked)."""

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator

from apismith.drivers.base import Dialect
from bridge_core.schemas import RequestModel


class ConnectionOptionsIn(RequestModel):
    """Limits for every query on the connection; unset ones take the service defaults."""

    statement_timeout_ms: int | None = Field(
        default=None,
        ge=100,
        le=86_400_000,
        description="server-side timeout of each statement "
        "[default: APISMITH_DEFAULT_STATEMENT_TIMEOUT_MS]",
    )
    max_rows: int | None = Field(
        default=None,
        ge=1,
        description="most rows one query may return [default: APISMITH_DEFAULT_MAX_ROWS]",
    )
    pool_size: int | None = Field(
        default=None, ge=1, le=100, description="most queries open at once [default: 5]"
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone of the database's timestamps without an offset [default: UTC]",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value


class ConnectionIn(RequestModel):
    name: str = Field(min_length=1, max_length=150)
    dialect: Dialect
    url: SecretStr = Field(
        description="e.g. postgresql://user:password@host:5432/db (see docs/connections.md)"
    )
    options: ConnectionOptionsIn = Field(default_factory=ConnectionOptionsIn)


class ConnectionUpdate(RequestModel):
    """A whole connection; ``url`` may be left out to keep the stored one."""

    name: str = Field(min_length=1, max_length=150)
    dialect: Dialect
    url: SecretStr | None = None
    options: ConnectionOptionsIn = Field(default_factory=ConnectionOptionsIn)


class ConnectionOptionsOut(BaseModel):
    statement_timeout_ms: int
    max_rows: int
    pool_size: int
    timezone: str


class ConnectionOut(BaseModel):
    uid: uuid.UUID
    name: str
    dialect: Dialect
    url: str = Field(description="the URL with its password masked")
    options: ConnectionOptionsOut
    created_at: datetime
    updated_at: datetime


class ConnectionTestResult(BaseModel):
    ok: bool
    latency_ms: float
    server_version: str
