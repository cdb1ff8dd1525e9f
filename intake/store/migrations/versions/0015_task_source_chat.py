"""the WeCom group a task was logged from (the intelligent bot's chatid): tasks.source_chat; upload tickets

Revision ID: 0015
Revises: 0008
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from intake.store.models import AwareDateTime

revision: str = "0015"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ALTER TABLE on every database: recreating tasks on SQLite would break 0008's rollup triggers
    with op.batch_alter_table("tasks", recreate="never") as batch:
        batch.add_column(sa.Column("source_chat", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
    op.create_table(
        "upload_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("reply_to", sa.Text(), nullable=True),
        sa.Column("chat", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.Column("expires_at", AwareDateTime(), nullable=False),
        sa.Column("used_at", AwareDateTime(), nullable=True),
        sa.Column("task_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nonce"),
    )
    op.create_index("ix_upload_tickets_account_id", "upload_tickets", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_upload_tickets_account_id", table_name="upload_tickets")
    op.drop_table("upload_tickets")
    with op.batch_alter_table("tasks", recreate="never") as batch:  # SQLite 3.35+ drops a column in place
        batch.drop_column("source_chat")
