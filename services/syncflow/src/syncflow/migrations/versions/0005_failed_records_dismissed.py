"""Failed records an operator dismissed: when and by whom (they are closed, not resolved).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 19:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "failed_records", sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("failed_records", sa.Column("dismissed_by", sa.String(length=150), nullable=True))


def downgrade() -> None:
    op.drop_column("failed_records", "dismissed_by")
    op.drop_column("failed_records", "dismissed_at")
