"""scopes: a console user's and a chat account's reach (district, street or community; none: everything)

Existing users and accounts keep seeing everything they saw (no scope).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("admin_users", "accounts"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("scope_level", sa.String(length=16), nullable=True))
            batch.add_column(sa.Column("scope_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ("accounts", "admin_users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("scope_id")
            batch.drop_column("scope_level")
