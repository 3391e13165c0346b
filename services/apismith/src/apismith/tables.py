"""Every APISmith table (SQLAlchemy Core), on the one MetaData that Alembic reads."""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from bridge_core.auth.users.table import users_table
from bridge_core.db.naming import Json, new_metadata, timestamps

metadata = new_metadata()

users = users_table(metadata)

service_tokens = Table(
    "service_tokens",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("name", String(150), nullable=False),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", Uuid, ForeignKey("users.uid", ondelete="SET NULL"), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    *timestamps(),
)

connections = Table(
    "connections",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("name", String(150), nullable=False, unique=True),
    Column("dialect", String(20), nullable=False),
    Column("url_encrypted", LargeBinary, nullable=False),
    Column("url_masked", Text, nullable=False),
    Column("options", Json, nullable=False),
    *timestamps(),
)

apis = Table(
    "apis",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("slug", String(150), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column(
        "connection_uid", Uuid, ForeignKey("connections.uid", ondelete="RESTRICT"), nullable=False
    ),
    Column("sql", Text, nullable=False),
    Column("params", Json, nullable=False),
    Column("business_keys", Json, nullable=False),
    Column("rowversion_column", String(255), nullable=True),
    Column("delta_strategy", String(20), nullable=False),
    Column("columns", Json, nullable=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("version", Integer, nullable=False),
    *timestamps(),
)

api_versions = Table(
    "api_versions",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("api_uid", Uuid, ForeignKey("apis.uid", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", Json, nullable=False),
    Column("created_by", String(150), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("api_uid", "version"),
)

executions = Table(
    "executions",
    metadata,
    Column("uid", Uuid, primary_key=True),
    Column("api_uid", Uuid, nullable=True),
    Column("slug", String(150), nullable=False, index=True),
    Column("api_version", Integer, nullable=True),
    Column("principal", String(200), nullable=False),
    Column("principal_kind", String(20), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("row_count", Integer, nullable=False, default=0),
    Column("duration_ms", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)
