"""Who is calling: the operator behind an accepted bearer token."""

from dataclasses import dataclass
from uuid import UUID

ADMIN_TOKEN_NAME = "admin-token"


@dataclass(frozen=True)
class Principal:
    """An operator token (``uid`` set) or the configured admin token (``uid`` is ``None``)."""

    uid: UUID | None
    name: str
