"""the yearly report's 层层加码 (Q8) reads forwarded tasks from an index

``ix_tasks_forwarded_received`` (forwarding office, then time): the burden report counts the year's
forwards that set an earlier deadline or added work per forwarding office, reading only forwarded
tasks, never the whole year's log.

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_forwarded_received", "tasks", ["forwarded_by_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_forwarded_received", table_name="tasks")
