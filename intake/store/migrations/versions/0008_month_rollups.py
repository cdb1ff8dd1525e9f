"""monthly rollups of closed months, kept correct by triggers on tasks and task_targets

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import AwareDateTime
from intake.store.triggers import create_statements, drop_statements

revision: str = "0008"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollup_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("starts_at", AwareDateTime(), nullable=False),
        sa.Column("ends_at", AwareDateTime(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("computed_at", AwareDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("month"),
    )
    op.create_table(
        "month_rollups",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("scope", sa.String(length=96), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["month"], ["rollup_months.month"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("month", "scope"),
    )
    dialect = op.get_bind().dialect.name
    for statement in create_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("month_rollups")
    op.drop_table("rollup_months")
