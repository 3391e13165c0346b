"""The one place ids are made: UUID v7, generated in Python before insert."""

import uuid

from uuid_utils import uuid7


def new_id() -> uuid.UUID:
    """Return a new time-ordered UUID v7 as a standard-library UUID."""
    return uuid.UUID(bytes=uuid7().bytes)


def new_id_texts(count: int) -> list[str]:
    """``count`` new UUID v7 in text form (for bulk loads, without building ``UUID`` objects)."""
    return [str(uuid7()) for _ in range(count)]
