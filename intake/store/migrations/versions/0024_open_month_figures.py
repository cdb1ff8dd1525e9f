"""the open month's figures as of the scheduler's last count, read by the dashboards

Revision ID: 0024
Revises: 0016
Create Date: 2026-12-03 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import AwareDateTime

revision: str = "0024"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open_month_figures",
        sa.Column("scope", sa.String(length=96), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("as_of", AwareDateTime(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("open_assignments", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade() -> None:
    op.drop_table("open_month_figures")
