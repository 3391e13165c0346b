"""Request and response bodies of the auth, user and operator token endpoints (no hashes)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, SecretStr

from bridge_core.schemas import RequestModel
from syncflow.auth.principal import PrincipalKind, Role


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


# Password rules are checked in the service, not here: a failed pydantic constraint
# echoes the rejected value back in the 422 body.
MIN_PASSWORD_LENGTH = 8


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: SecretStr


class RefreshRequest(BaseModel):
    refresh_token: SecretStr


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9._@+-]+$")
    password: SecretStr = Field(description=f"at least {MIN_PASSWORD_LENGTH} characters")
    role: Role


class UserOut(BaseModel):
    uid: UUID
    username: str
    role: Role
    is_active: bool
    created_at: datetime


class PrincipalOut(BaseModel):
    uid: UUID | None
    name: str
    role: Role
    kind: PrincipalKind
