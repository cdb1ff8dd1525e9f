"""correction_examples: every console correction kept as a labelled example (issue 13)

The notice text, the message time, the sender's department, the fields the admin decided
(the `jianfu eval` format) and the rules version that read the notice. `jianfu eval --log`
scores the current rules on them; `jianfu rules suggest` learns trigger words from them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import intake.store.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "correction_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", intake.store.models.AwareDateTime(timezone=True), nullable=False),
        sa.Column("sender_department", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("expect", sa.JSON(), nullable=True),
        sa.Column("rules_version", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
        sa.Column("created_at", intake.store.models.AwareDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_correction_examples_task_id", "correction_examples", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_correction_examples_task_id", table_name="correction_examples")
    op.drop_table("correction_examples")
