"""Request and response bodies of the schedules API."""

from datetime import datetime
from typing import Self
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from bridge_core.schemas import RequestModel
from syncflow.domain import SyncMode
from syncflow.schedules.timing import ScheduleTiming


class ScheduleBody(RequestModel):
    """What runs when: an interval or a cron expression, an optional daily window, and an
    optional spread of one run over several days."""

    entity: str = Field(min_length=1)
    mode: SyncMode = SyncMode.INCREMENTAL
    interval_seconds: int | None = Field(
        default=None, ge=1, le=31_536_000, description="run every N seconds (exclusive with cron)"
    )
    cron: str | None = Field(
        default=None,
        description='crontab "minute hour day month weekday" (0 and 7 = Sunday), '
        "in the schedule's timezone",
    )
    timezone: str = Field(default="UTC", description="IANA timezone of cron and window")
    window_start: str | None = Field(default=None, description='"HH:MM": runs start no earlier')
    window_end: str | None = Field(
        default=None, description='"HH:MM": a running batch pauses here (may cross midnight)'
    )
    days_to_complete: int | None = Field(
        default=None, ge=1, le=366, description="read ceil(rows / days) rows a day"
    )
    is_active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.interval_seconds is None) == (self.cron is None):
            raise ValueError("set exactly one of interval_seconds and cron")
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("set both window_start and window_end, or neither")
        if self.window_start is not None and self.window_start == self.window_end:
            raise ValueError("window_start and window_end must differ (no window: all day)")
        self.timing()
        return self

    def timing(self) -> ScheduleTiming:
        """The schedule's timing (``ValueError`` naming what is invalid)."""
        return ScheduleTiming.of(
            interval_seconds=self.interval_seconds,
            cron=self.cron,
            timezone=self.timezone,
            window_start=self.window_start,
            window_end=self.window_end,
        )


class ScheduleOut(BaseModel):
    uid: UUID
    entity: str
    mode: str
    interval_seconds: int | None
    cron: str | None
    timezone: str
    window_start: str | None
    window_end: str | None
    days_to_complete: int | None
    is_active: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_batch_uid: UUID | None
    created_at: datetime
    updated_at: datetime


class SchedulePage(BaseModel):
    items: list[ScheduleOut]
    total: int
    page: int
    page_size: int
