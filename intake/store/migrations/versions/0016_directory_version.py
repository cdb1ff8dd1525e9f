"""the directory's version: raised by triggers on communities, streets and departments

Every writer reads this one row per write batch and reads the directory (10,000 communities and
1,000 departments in a province) again only when it moved (``intake.store.models_directory``).

Revision ID: 0016
Revises: 0022
Create Date: 2026-12-03 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models_directory import create_statements, drop_statements

revision: str = "0016"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for statement in create_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("directory_version")
