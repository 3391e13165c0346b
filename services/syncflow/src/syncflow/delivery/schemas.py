"""Response bodies of the change feed."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

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
    data: dict[str, Any] = Field(description="the mapped row as stored")
    parent_key_hashes: dict[str, str] = Field(description="parent entity -> its key hash")
    created_at: datetime


class ChangePage(BaseModel):
    items: list[ChangeEvent]
    next: int = Field(description="pass as `after` to continue (the last id, or `after` again)")
