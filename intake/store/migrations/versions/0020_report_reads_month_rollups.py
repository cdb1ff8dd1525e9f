"""the yearly report reads month_rollups: report_rollups dropped, figures rolled up again

The burden report now takes its counts from the monthly figures (``month_rollups``, kept correct by
the triggers of 0008) and keeps its own rows (items, certificates, 层层加码, platforms, quotes) in
``month_rollups`` under the scope ``burden``. The figures gained ``department_kinds``, so the months
rolled up before are dropped; the sweep computes them again.

Revision ID: 0020
Revises: 0008
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import AwareDateTime

revision: str = "0020"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("report_rollups")
    op.execute("DELETE FROM month_rollups")
    op.execute("DELETE FROM rollup_months")


def downgrade() -> None:
    op.create_table(
        "report_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("query", sa.String(length=8), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=True),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("built_at", AwareDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month", "query", name="uq_report_rollups_month_query"),
    )
    op.execute("DELETE FROM month_rollups")
    op.execute("DELETE FROM rollup_months")
