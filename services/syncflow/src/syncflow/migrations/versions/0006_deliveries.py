"""Deliveries: streams (leases per destination and entity), events on their way, attempts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "delivery_streams",
        sa.Column("destination_uid", sa.Uuid(), nullable=False),
        sa.Column("entity_name", sa.String(length=150), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_uid"],
            ["destinations.uid"],
            name=op.f("fk_delivery_streams_destination_uid_destinations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("destination_uid", "entity_name", name=op.f("pk_delivery_streams")),
    )
    op.create_index(
        "ix_delivery_streams_next_check", "delivery_streams", ["next_check_at"], unique=False
    )
    op.create_table(
        "deliveries",
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("destination_uid", sa.Uuid(), nullable=False),
        sa.Column("entity_name", sa.String(length=150), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("key_hash", sa.String(length=32), nullable=False),
        sa.Column("bridge_uid", sa.Uuid(), nullable=False),
        sa.Column("operation", sa.String(length=10), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("parent_key_hashes", JSON, nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("batch_uid", sa.Uuid(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("event_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_uid"],
            ["destinations.uid"],
            name=op.f("fk_deliveries_destination_uid_destinations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_deliveries")),
    )
    op.create_index(
        "uq_deliveries_destination_event",
        "deliveries",
        ["destination_uid", "event_id"],
        unique=True,
    )
    op.create_index(
        "ix_deliveries_unbatched",
        "deliveries",
        ["destination_uid", "entity_name", "event_id"],
        unique=False,
        postgresql_where="state = 'pending' AND batch_uid IS NULL",
    )
    op.create_index(
        "ix_deliveries_open_key",
        "deliveries",
        ["destination_uid", "entity_name", "key_hash"],
        unique=False,
        postgresql_where="state <> 'delivered'",
    )
    op.create_index("ix_deliveries_batch", "deliveries", ["batch_uid"], unique=False)
    op.create_index(
        "ix_deliveries_state",
        "deliveries",
        ["destination_uid", "entity_name", "state"],
        unique=False,
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("destination_uid", sa.Uuid(), nullable=False),
        sa.Column("entity_name", sa.String(length=150), nullable=False),
        sa.Column("batch_uid", sa.Uuid(), nullable=False),
        sa.Column("event_ids", sa.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_uid"],
            ["destinations.uid"],
            name=op.f("fk_delivery_attempts_destination_uid_destinations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        "ix_delivery_attempts_event_ids",
        "delivery_attempts",
        ["event_ids"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_delivery_attempts_attempted_at", "delivery_attempts", ["attempted_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("delivery_streams")
