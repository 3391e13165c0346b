"""Who is calling: the authenticated principal every protected endpoint receives."""

import uuid
from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "reader"]
PrincipalKind = Literal["user", "token"]


@dataclass(frozen=True)
class Principal:
    """A user (logged in with a JWT) or a service token, with its role."""

    uid: uuid.UUID
    name: str
    role: Role
    kind: PrincipalKind

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
