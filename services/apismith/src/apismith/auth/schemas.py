"""Request and response bodies of the auth endpoints (no model ever carries a hash)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from apismith.auth.principal import PrincipalKind, Role
from bridge_core.schemas import RequestModel

# Password rules are checked in the service, not here: a failed pydantic constraint
# echoes the rejected value back in the 422 body.
MIN_PASSWORD_LENGTH = 8


class LoginRequest(RequestModel):
    username: str = Field(min_length=1, max_length=150)
    password: SecretStr


class RefreshRequest(RequestModel):
    refresh_token: SecretStr


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


class UserCreate(RequestModel):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9._@+-]+$")
    password: SecretStr = Field(description=f"at least {MIN_PASSWORD_LENGTH} characters")
    role: Role


class UserOut(BaseModel):
    uid: uuid.UUID
    username: str
    role: Role
    is_active: bool
    created_at: datetime


class ServiceTokenCreate(RequestModel):
    name: str = Field(min_length=1, max_length=150)
    role: Role


class ServiceTokenOut(BaseModel):
    uid: uuid.UUID
    name: str
    role: Role
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ServiceTokenCreated(BaseModel):
    uid: uuid.UUID
    name: str
    role: Role
    token: str = Field(description="shown only in this response; store it now")


class PrincipalOut(BaseModel):
    uid: uuid.UUID
    name: str
    role: Role
    kind: PrincipalKind
