"""Request and response bodies of the sync API."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from bridge_core.schemas import RequestModel
from syncflow.domain import SyncMode


class SyncStart(RequestModel):
    entity: str
    mode: SyncMode = SyncMode.INCREMENTAL
    dry_run: bool = False


class BatchStatus(BaseModel):
    batch_uid: UUID
    entity: str
    mode: str
    dry_run: bool
    status: str
    counters: dict[str, int]
    cursor_start: Any = None
    cursor_end: Any = None
    progress: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    options: dict[str, Any] | None = Field(
        default=None, description="a scheduled batch's window and days_to_complete"
    )
    not_before: datetime | None = Field(
        default=None, description="a paused batch (status pending) resumes at this time"
    )
    stop_at: datetime | None = Field(
        default=None, description="a running batch pauses at its first chunk boundary after this"
    )
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "BatchStatus":
        return cls(
            batch_uid=row["uid"],
            entity=row["entity_name"],
            mode=row["mode"],
            dry_run=row["dry_run"],
            status=row["status"],
            counters=row["counters"],
            cursor_start=row["cursor_start"],
            cursor_end=row["cursor_end"],
            progress=row["progress"] or {},
            warnings=row["warnings"] or [],
            stage_seconds=row["stage_seconds"] or {},
            options=row["options"],
            not_before=row["not_before"],
            stop_at=row["stop_at"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            error=row["error"],
        )


@dataclass(frozen=True)
class BatchFilter:
    """Which batches to list; ``None`` (or empty) matches every entity and status, and
    batches queued in ``[created_from, created_before)`` when given."""

    entity: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


class BatchPage(BaseModel):
    items: list[BatchStatus]
    total: int
    page: int
    page_size: int


class RetryFailed(RequestModel):
    entity: str
    batch_uid: UUID | None = None


class RetryRecords(RequestModel):
    record_uids: list[UUID] = Field(
        min_length=1, max_length=1000, description="failed records to re-run (open ones only)"
    )
