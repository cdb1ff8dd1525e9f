"""admission per district and the district's digest time: rule_versions.district_id, districts.digest_day/hour

Existing rule versions stay the city default (district_id NULL): nothing is lost or moved.

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rule_versions") as batch:
        batch.add_column(sa.Column("district_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_rule_versions_district_id", "districts", ["district_id"], ["id"])
        batch.create_index("ix_rule_versions_district_id", ["district_id"])
    with op.batch_alter_table("districts") as batch:
        batch.add_column(sa.Column("digest_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("digest_hour", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("districts") as batch:
        batch.drop_column("digest_hour")
        batch.drop_column("digest_day")
    with op.batch_alter_table("rule_versions") as batch:
        batch.drop_index("ix_rule_versions_district_id")
        batch.drop_constraint("fk_rule_versions_district_id", type_="foreignkey")
        batch.drop_column("district_id")
