"""Request and response bodies of the change feed and the deliveries API."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

MAX_FEED_LIMIT = 1000


class ChangeEvent(BaseModel):
    """One row's change, as committed with the row."""

    id: int = Field(description="the event's position in the feed (pass it as `after`)")
    op: Literal["upsert", "delete"]
    operation: Literal["insert", "update", "delete"] = Field(
        description="what the chunk did to the row (`op` folds insert and update into upsert)"
    )
    key_hash: str
    uid: UUID = Field(description="the row's _bridge_uid")
    data_hash: str
    rowversion: str | None
    batch_uid: UUID
    data: dict[str, Any] | None = Field(
        description=(
            "the mapped row as this change stored it; null once a newer change of the key "
            "superseded it (read on: that change carries the key's state)"
        )
    )
    parent_key_hashes: dict[str, str] = Field(description="parent entity -> its key hash")
    created_at: datetime


class ChangePage(BaseModel):
    items: list[ChangeEvent]
    next: int = Field(description="pass as `after` to continue (the last id, or `after` again)")


DeliveryState = Literal["pending", "delivering", "delivered", "dead"]


class DeliveryAttempt(BaseModel):
    """One request made to deliver a batch that held the event."""

    attempted_at: datetime
    request: str = Field(description="method and path, e.g. `POST /api/v1/parts/batch/insert`")
    status_code: int | None = Field(description="none: no answer (timeout, dropped connection)")
    latency_ms: float
    response: str | None = Field(description="the first KB of the answer")
    error: str | None


class Delivery(BaseModel):
    """One outbox event on its way to one destination."""

    uid: UUID
    destination: str
    destination_uid: UUID
    entity: str
    event_id: int
    key_hash: str
    operation: Literal["insert", "update", "delete"]
    state: DeliveryState
    batch_uid: UUID | None = Field(description="the batch it is sent in (the webhook-id)")
    attempts_count: int = Field(description="failed attempts since it was last (re)played")
    next_attempt_at: datetime | None = Field(description="when a pending event is sent next")
    last_error: str | None
    event_created_at: datetime
    delivered_at: datetime | None
    attempts: list[DeliveryAttempt]


class DeliveryPage(BaseModel):
    items: list[Delivery]
    total: int
    page: int
    page_size: int


class DeliveryStream(BaseModel):
    """One destination's delivery of one entity: how far it has come."""

    destination: str
    entity: str
    read_through: int | None = Field(
        description=(
            "the newest outbox event the stream has read: delivered, or taken into the "
            "ledger to be tracked there (events delivered straight from the outbox are not "
            "listed one by one under /deliveries)"
        )
    )
    unread: int = Field(description="events in the outbox after `read_through`")
    pending: int = Field(description="unread, waiting in the ledger, or waiting for a retry")
    delivering: int = Field(description="in flight")
    dead: int = Field(description="dead-lettered (replay them once the cause is fixed)")
    lag_seconds: float = Field(description="age of the oldest event not delivered yet")


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    destination: str = Field(min_length=1, description="the destination's name or uid")
    entity: str | None = None
    state: DeliveryState | None = Field(default=None, description="e.g. `dead`")
    uids: list[UUID] | None = Field(
        default=None, max_length=10_000, description="these deliveries only"
    )
    batch_uid: UUID | None = Field(
        default=None, description="the events of this batch only (a delivery's `batch_uid`)"
    )


class ReplayResult(BaseModel):
    replayed: int = Field(description="events pending again (same ids, due now)")
