"""indexes for the sweep, the outbox claim and monthly digests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_targets_due_date"), ["due_date"], unique=False)
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index("ix_reminders_unsent_fire", ["sent_at", "fire_at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_status_next_attempt", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_unsent_fire")
    with op.batch_alter_table("task_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_targets_due_date"))
