"""how a notice arrived: tasks.source_type, source_sha256 (the original, for resends), source_name

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("source_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                   server_default="text"))
        batch.add_column(sa.Column("source_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column("source_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
    op.create_index("ix_tasks_source_sha256", "tasks", ["source_sha256"])


def downgrade() -> None:
    op.drop_index("ix_tasks_source_sha256", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("source_name")
        batch.drop_column("source_sha256")
        batch.drop_column("source_type")
