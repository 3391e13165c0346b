"""Response bodies of the monitoring API."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class FailedRecord(BaseModel):
    uid: UUID
    entity: str
    batch_uid: UUID
    stage: str
    error: str
    raw_data: dict[str, Any]
    key_hash: str | None
    retry_count: int
    created_at: datetime
    resolved_at: datetime | None


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


class Stats(BaseModel):
    batches: dict[str, int]
    entities: list[EntityStats]
