"""Request and response bodies of the operator token endpoints (a hash is never returned)."""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from bridge_core.schemas import RequestModel


class TokenCreate(RequestModel):
    name: str = Field(min_length=1, max_length=150, description="who or what uses the token")


class TokenCreated(BaseModel):
    uid: UUID
    name: str
    token: str = Field(description="the bearer token; shown in this response only")


class TokenOut(BaseModel):
    uid: UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None
