"""Audit records of runtime calls, as stored and as listed."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from apismith.auth.principal import Principal, PrincipalKind

ExecutionKind = Literal["execute", "stream"]
# ok: answered in full; error: refused or failed (4xx, 502); timeout: the ERP statement
# timed out (504); aborted: the client went away mid-stream; truncated: a stream passed
# the connection's max_rows (a 502, or broken off once rows had gone out)
ExecutionStatus = Literal["ok", "error", "timeout", "aborted", "truncated"]


@dataclass(frozen=True)
class ExecutionRecord:
    """What the runtime reports about one call, for the audit and the metrics."""

    slug: str
    kind: ExecutionKind
    principal: Principal
    api_uid: uuid.UUID | None
    api_version: int | None
    status: ExecutionStatus
    row_count: int
    duration_ms: int
    error: str | None = None


class ExecutionOut(BaseModel):
    uid: uuid.UUID
    slug: str
    api_uid: uuid.UUID | None
    api_version: int | None
    principal: str
    principal_kind: PrincipalKind
    kind: ExecutionKind
    status: ExecutionStatus
    row_count: int
    duration_ms: int
    error: str | None
    created_at: datetime


@dataclass(frozen=True)
class ExecutionFilter:
    """Which audit rows to list or measure; ``None`` matches everything."""

    slug: str | None = None
    principal: str | None = None
    status: ExecutionStatus | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


class ApiLatency(BaseModel):
    """One API's calls in the filtered window: how many, how many failed, how fast."""

    slug: str
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float
    max_ms: int


class ExecutionPage(BaseModel):
    items: list[ExecutionOut]
    total: int
    page: int
    page_size: int
