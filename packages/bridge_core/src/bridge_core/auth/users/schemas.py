"""Request and response bodies of sign-in, refresh and users (no model ever carries a hash).

``UserCreate`` and ``UserOut`` are generic over a service's role set; a service subclasses
them with its ``Role`` (``class UserOut(users.UserOut[Role]): pass``), so its OpenAPI
document names them ``UserCreate``/``UserOut`` and lists its roles.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, SecretStr

from bridge_core.schemas import RequestModel

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "LoginRequest",
    "RefreshRequest",
    "TokenPair",
    "UserCreate",
    "UserOut",
]

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


class UserCreate[RoleT: str](RequestModel):
    username: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9._@+-]+$")
    password: SecretStr = Field(description=f"at least {MIN_PASSWORD_LENGTH} characters")
    role: RoleT


class UserOut[RoleT: str](BaseModel):
    uid: UUID
    username: str
    role: RoleT
    is_active: bool
    created_at: datetime
