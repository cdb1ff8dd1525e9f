"""tasks: index for duplicate detection (department, received_at)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_department_received", "tasks", ["department_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_department_received", table_name="tasks")
