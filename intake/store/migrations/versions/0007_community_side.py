"""the community's side: task source, trace demands, funding answers, review clock, announcements,
reports by communities, counter work

Existing targets count as announced (the heads heard of them through the old reminders), so an
upgrade does not push every old task to every community at once.

Revision ID: 0007
Revises: 0010
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import AwareDateTime

revision: str = "0007"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="bot"))
        batch.add_column(sa.Column("trace_demand", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("funding_note", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("review_reminded_at", AwareDateTime(), nullable=True))
    with op.batch_alter_table("task_targets") as batch:
        batch.add_column(sa.Column("announced_at", AwareDateTime(), nullable=True))
        batch.add_column(sa.Column("quiet", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(sa.text("UPDATE task_targets SET announced_at = CURRENT_TIMESTAMP"))
    op.create_table(
        "task_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("tasks.id"), nullable=True),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("msg_id", sa.String(length=128), nullable=False, unique=True),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("received_at", AwareDateTime(), nullable=False),
    )
    op.create_index("ix_task_reports_task_id", "task_reports", ["task_id"])
    op.create_index("ix_task_reports_community_id", "task_reports", ["community_id"])
    op.create_table(
        "counter_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("communities.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("people", sa.Integer(), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("period_days", sa.Integer(), nullable=True),
        sa.Column("systems", sa.Integer(), nullable=True),
        sa.Column("raw_text", sa.String(length=500), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.Column("updated_at", AwareDateTime(), nullable=False),
    )
    op.create_index("ix_counter_entries_community_day", "counter_entries", ["community_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_counter_entries_community_day", table_name="counter_entries")
    op.drop_table("counter_entries")
    op.drop_index("ix_task_reports_community_id", table_name="task_reports")
    op.drop_index("ix_task_reports_task_id", table_name="task_reports")
    op.drop_table("task_reports")
    with op.batch_alter_table("task_targets") as batch:
        batch.drop_column("quiet")
        batch.drop_column("announced_at")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("review_reminded_at")
        batch.drop_column("funding_note")
        batch.drop_column("trace_demand")
        batch.drop_column("source")
