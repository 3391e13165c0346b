"""The one place ids are made: UUID v7, generated in Python before insert."""

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    """Return a new time-ordered UUID v7 as a standard-library UUID."""
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
