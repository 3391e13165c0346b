"""Who is calling: a signed-in user, an operator token, or the configured admin token."""

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

ADMIN_TOKEN_NAME = "admin-token"

Role = Literal["admin", "operator", "viewer"]
"""``admin`` also manages users; ``operator`` runs everything else; ``viewer`` only reads."""

PrincipalKind = Literal["user", "operator-token", "admin-token"]


@dataclass(frozen=True)
class Principal:
    """The caller: ``uid`` is the user's or operator token's row (``None`` for the admin token)."""

    uid: UUID | None
    name: str
    role: Role = "operator"
    kind: PrincipalKind = "operator-token"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_change(self) -> bool:
        """Whether the caller may change anything (every role but ``viewer``)."""
        return self.role != "viewer"
