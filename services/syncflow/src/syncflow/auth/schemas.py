"""Request and response bodies of the auth, user and operator token endpoints (no hashes).

The bodies of sign-in, refresh and users are ``bridge_core.auth.users.schemas``; a user's
are given SyncFlow's roles here.
"""

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from bridge_core.auth.users import schemas as users
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


class UserCreate(users.UserCreate[Role]):
    pass


class UserOut(users.UserOut[Role]):
    pass


class PrincipalOut(BaseModel):
    uid: UUID | None
    name: str
    role: Role
    kind: PrincipalKind
