"""Request and response bodies of the auth endpoints (no model ever carries a hash).

The bodies of sign-in, refresh and users are ``bridge_core.auth.users.schemas``; a user's
are given APISmith's roles here.
"""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from apismith.auth.principal import PrincipalKind, Role
from bridge_core.auth.users import schemas as users
from bridge_core.schemas import RequestModel


class UserCreate(users.UserCreate[Role]):
    pass


class UserOut(users.UserOut[Role]):
    pass


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
