"""Response bodies of the monitoring API, and which failed records a listing asks for."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from bridge_core.schemas import RequestModel


@dataclass(frozen=True)
class FailedRecordFilter:
    """Which failed records to list; ``None`` (or empty) matches every entity, batch and
    stage; resolved ones only with ``include_resolved``."""

    entity: str | None = None
    batch_uid: UUID | None = None
    stage: str | None = None
    include_resolved: bool = False


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


class DeliveryStats(BaseModel):
    destination: str
    entity: str
    pending: int = Field(description="waiting, or waiting for a retry")
    delivering: int = Field(description="in flight")
    dead: int = Field(description="dead-lettered (replay them once the cause is fixed)")
    lag_seconds: float = Field(description="age of the oldest event not delivered yet")


class Stats(BaseModel):
    batches: dict[str, int]
    entities: list[EntityStats]
    deliveries: list[DeliveryStats] = Field(
        default_factory=list, description="per destination and entity with undelivered events"
    )


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


class DestinationCheck(BaseModel):
    destination: str
    kind: str
    url: str
    ok: bool
    paused: bool
    latency_ms: float | None = None
    detail: str | None = None


class DetailedHealth(BaseModel):
    """``unhealthy`` (HTTP 503) when a database, any source's APISmith or any enabled
    destination is unreachable."""

    status: Literal["ok", "unhealthy"]
    database: DatabaseCheck
    target_database: DatabaseCheck | None = Field(
        default=None, description="only when the target is not SyncFlow's own database"
    )
    apismith: list[ApiSmithCheck]
    destinations: list[DestinationCheck] = Field(
        default_factory=list,
        description="enabled destinations: ScheduleHub's GET {prefix}/health answers 2xx; a "
        "webhook endpoint answers at all",
    )
