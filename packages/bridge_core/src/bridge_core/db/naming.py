"""One MetaData factory with the naming convention every service's ``tables.py`` uses,
and the column types and groups both services' tables share."""

from sqlalchemy import JSON, Column, DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with the shared naming convention (the one Alembic reads)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


# JSON on any database, JSONB on PostgreSQL
Json = JSON().with_variant(JSONB(), "postgresql")


def timestamps() -> list[Column[object]]:
    """``created_at`` and ``updated_at`` (timestamptz, set by the repositories)."""
    return [
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    ]
