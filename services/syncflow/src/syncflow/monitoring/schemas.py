"""Response bodies of the monitoring API."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from bridge_core.schemas import RequestModel


class FailedRecord(BaseModel):
    uid: UUID
    entity: str
    batch_uid: UUID
    stage: str
    error: str
    raw_data: dict[str, Any]
    key_hash: str | None
    retry_count: int
    next_retry_at: datetime | None = Field(
        default=None, description="the next automatic retry (none: max_retries reached)"
    )
    created_at: datetime
    resolved_at: datetime | None
    dismissed_at: datetime | None = Field(
        default=None, description="closed by an operator without being loaded"
    )
    dismissed_by: str | None = None


class DismissFailed(RequestModel):
    record_uids: list[UUID] = Field(
        min_length=1, max_length=1000, description="failed records to close without loading"
    )


class Dismissed(BaseModel):
    dismissed: int = Field(description="how many were open and are now dismissed")


class FailedRecordPage(BaseModel):
    items: list[FailedRecord]
    total: int
    page: int
    page_size: int


class PendingChild(BaseModel):
    uid: UUID
    entity: str
    batch_uid: UUID
    key_hash: str
    parent_entity: str
    parent_key: list[Any]
    attempts: int
    next_retry_at: datetime
    last_error: str | None
    created_at: datetime


class PendingChildPage(BaseModel):
    items: list[PendingChild]
    total: int
    page: int
    page_size: int


class EntityStats(BaseModel):
    entity: str
    last_batch_uid: UUID | None
    last_status: str | None
    last_counters: dict[str, int] | None
    last_success_at: datetime | None
    seconds_since_success: float | None
    open_failures: int
    pending_children: int
    active_batch_uid: UUID | None = None
    active_status: str | None = None
    active_progress: dict[str, Any] | None = None
    next_run_at: datetime | None = None


class Stats(BaseModel):
    batches: dict[str, int]
    entities: list[EntityStats]


class DatabaseCheck(BaseModel):
    ok: bool
    latency_ms: float | None = None
    detail: str | None = None


class ApiSmithCheck(BaseModel):
    source: str
    base_url: str
    ok: bool
    latency_ms: float | None = None
    version: str | None = None
    detail: str | None = None


class DetailedHealth(BaseModel):
    """``unhealthy`` (HTTP 503) when a database or any source's APISmith is unreachable."""

    status: Literal["ok", "unhealthy"]
    database: DatabaseCheck
    target_database: DatabaseCheck | None = Field(
        default=None, description="only when the target is not SyncFlow's own database"
    )
    apismith: list[ApiSmithCheck]
