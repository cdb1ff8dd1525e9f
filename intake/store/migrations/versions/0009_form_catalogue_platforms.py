"""the form catalogue (报表目录), the platforms named in notices and the yearly report's month rollups (issue 18)

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-03 09:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import AwareDateTime

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("field_keys", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recurrence", sa.String(length=16), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("merge_into_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", AwareDateTime(), nullable=True),
        sa.Column("repeat_of_id", sa.Integer(), nullable=True),
        sa.Column("repeat_shared", sa.Integer(), nullable=False),
        sa.Column("first_task_id", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", AwareDateTime(), nullable=False),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"]),
        sa.ForeignKeyConstraint(["merge_into_id"], ["forms.id"]),
        sa.ForeignKeyConstraint(["repeat_of_id"], ["forms.id"]),
        sa.ForeignKeyConstraint(["first_task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key", "department", name="uq_forms_name_department"),
    )
    op.create_index("ix_forms_name_key", "forms", ["name_key"])
    op.create_table(
        "form_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("received_at", AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("form_id", "task_id", name="uq_form_sends_form_task"),
    )
    op.create_index("ix_form_sends_task_id", "form_sends", ["task_id"])
    op.create_index("ix_form_sends_received_at", "form_sends", ["received_at"])
    op.create_table(
        "platforms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merged_into_id"], ["platforms.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "platform_mentions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("received_at", AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["platform_id"], ["platforms.id"]),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform_id", "task_id", name="uq_platform_mentions_platform_task"),
    )
    op.create_index("ix_platform_mentions_task_id", "platform_mentions", ["task_id"])
    op.create_index("ix_platform_mentions_received_at", "platform_mentions", ["received_at"])
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


def downgrade() -> None:
    op.drop_table("report_rollups")
    op.drop_table("platform_mentions")
    op.drop_table("platforms")
    op.drop_table("form_sends")
    op.drop_table("forms")
