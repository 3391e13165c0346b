"""Deliveries waiting for a retry, found without walking the delivered ones.

The oldest due retry was looked for in event id order through the (destination, event
id) index, past every delivered event of the stream: 0.3 s per look at 150,000
delivered events, once per batch sent (bench/RESULTS.md, delivery section).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 22:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_retry",
        "deliveries",
        ["destination_uid", "entity_name", "event_id"],
        unique=False,
        postgresql_where="state = 'pending' AND batch_uid IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_retry", table_name="deliveries")
