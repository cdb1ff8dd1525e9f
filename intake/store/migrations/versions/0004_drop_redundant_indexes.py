"""drop indexes the write path paid for and no query needs

Each is covered by another index's leading column (a unique constraint or a composite index)
or is too unselective to be used:

* ix_tasks_department_id: ix_tasks_department_received starts with department_id
* ix_tasks_kind, ix_tasks_listing: a handful of values each; filters on them also bound received_at
* ix_task_targets_task_id: uq_target_task_community starts with task_id
* ix_reminders_target_id: uq_reminder_target_kind_fire starts with target_id
* ix_reminders_fire_at: the sweep reads ix_reminders_unsent_fire (sent_at, fire_at)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 10:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = (
    ("ix_tasks_department_id", "tasks", ["department_id"]),
    ("ix_tasks_kind", "tasks", ["kind"]),
    ("ix_tasks_listing", "tasks", ["listing"]),
    ("ix_task_targets_task_id", "task_targets", ["task_id"]),
    ("ix_reminders_target_id", "reminders", ["target_id"]),
    ("ix_reminders_fire_at", "reminders", ["fire_at"]),
)


def upgrade() -> None:
    for name, table, _columns in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns)
