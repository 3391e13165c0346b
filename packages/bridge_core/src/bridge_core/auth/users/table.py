"""The ``users`` table both services keep, on the MetaData of the service's ``tables.py``."""

from sqlalchemy import Boolean, Column, MetaData, String, Table, Text, Uuid

from bridge_core.db.naming import timestamps

__all__ = ["users_table"]


def users_table(metadata: MetaData) -> Table:
    """``users`` on ``metadata``: the columns ``repository.py`` reads and writes (each
    service creates the table in a migration of its own)."""
    return Table(
        "users",
        metadata,
        Column("uid", Uuid, primary_key=True),
        Column("username", String(150), nullable=False, unique=True),
        Column("password_hash", Text, nullable=False),
        Column("role", String(20), nullable=False),
        Column("is_active", Boolean, nullable=False, default=True),
        *timestamps(),
    )
