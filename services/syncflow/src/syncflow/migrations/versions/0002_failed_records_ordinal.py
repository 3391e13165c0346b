"""Failed records: one per row read, also when bad rows of one batch share a key hash.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 16:32:23.133210
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # existing records are each the only open failure of their key: ordinal 0
    op.add_column(
        "failed_records",
        sa.Column("ordinal", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.alter_column("failed_records", "ordinal", server_default=None)
    op.drop_index(
        op.f("uq_failed_records_open_key"),
        table_name="failed_records",
        postgresql_where="((resolved_at IS NULL) AND (key_hash IS NOT NULL))",
    )
    op.create_index(
        "uq_failed_records_open_key",
        "failed_records",
        ["entity_name", "key_hash", "ordinal"],
        unique=True,
        postgresql_where="resolved_at IS NULL AND key_hash IS NOT NULL",
    )


def downgrade() -> None:
    # only one open failure per key survives the way back
    op.execute("UPDATE failed_records SET resolved_at = now() WHERE ordinal > 0")
    op.drop_index(
        "uq_failed_records_open_key",
        table_name="failed_records",
        postgresql_where="resolved_at IS NULL AND key_hash IS NOT NULL",
    )
    op.create_index(
        op.f("uq_failed_records_open_key"),
        "failed_records",
        ["entity_name", "key_hash"],
        unique=True,
        postgresql_where="((resolved_at IS NULL) AND (key_hash IS NOT NULL))",
    )
    op.drop_column("failed_records", "ordinal")
