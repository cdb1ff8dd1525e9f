"""invite scope: an admin's invite carries the scope its account binds to (district, street or community)

Existing invites keep binding as before (no scope: the whole deployment for an admin).

Revision ID: 0022
Revises: 0023
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("scope_level", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("scope_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("scope_id")
        batch.drop_column("scope_level")
