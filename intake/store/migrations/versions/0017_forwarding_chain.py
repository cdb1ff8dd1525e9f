"""the forwarding chain: the forwarding office of a task, and what it added (层层加码) with the issuer's deadline

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.triggers import create_statements, drop_statements

revision: str = "0017"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _without_rollup_triggers(change: Callable[[], None]) -> None:
    """SQLite rebuilds ``tasks`` to alter it: the rollup triggers (0008) that name it go and come back."""
    dialect = op.get_bind().dialect.name
    for statement in drop_statements(dialect):
        op.execute(sa.text(statement))
    change()
    for statement in create_statements(dialect):
        op.execute(sa.text(statement))


def upgrade() -> None:
    _without_rollup_triggers(_add_columns)


def _add_columns() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("forwarded_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("escalation", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("issuer_deadline", sa.Date(), nullable=True))
        batch.add_column(sa.Column("issuer_deadline_time", sa.Time(), nullable=True))
        batch.create_foreign_key("fk_tasks_forwarded_by_id", "departments", ["forwarded_by_id"], ["id"])


def downgrade() -> None:
    _without_rollup_triggers(_drop_columns)


def _drop_columns() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint("fk_tasks_forwarded_by_id", type_="foreignkey")
        batch.drop_column("issuer_deadline_time")
        batch.drop_column("issuer_deadline")
        batch.drop_column("escalation")
        batch.drop_column("forwarded_by_id")
