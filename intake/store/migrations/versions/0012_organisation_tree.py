"""the organisation tree: districts, streets, communities under streets, departments with a level

The flat set-up (one [district] with its communities, one 街道办 for every street) moves into one
district and one street, named 未命名区 / 未命名街道 until start-up names them from config.toml
(intake.org adopts them). Every community joins that street; every department becomes a department of
that district, and 街道办 the street's own office. Nothing is dropped.

Revision ID: 0012
Revises: 0015
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.store.models import AwareDateTime

revision: str = "0012"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADOPT_DISTRICT = "未命名区"
ADOPT_STREET = "未命名街道"
STREET_OFFICE = "街道办"


def _create_tables() -> None:
    op.create_table(
        "districts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=False, unique=True),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
    )
    op.create_table(
        "streets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("districts.id"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", AwareDateTime(), nullable=False),
        sa.UniqueConstraint("district_id", "name", name="uq_streets_district_name"),
    )
    op.create_table(
        "org_imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("author", sa.String(length=96), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("tree", sa.JSON(), nullable=True),
        sa.Column("created_at", AwareDateTime(), nullable=False),
    )


def _move_flat_setup() -> None:
    bind = op.get_bind()
    has_rows = bind.execute(sa.text(
        "SELECT (SELECT COUNT(*) FROM communities) + (SELECT COUNT(*) FROM departments)")).scalar()
    if not has_rows:
        return
    bind.execute(sa.text("INSERT INTO districts (name, created_at) VALUES (:n, CURRENT_TIMESTAMP)"), {"n": ADOPT_DISTRICT})
    district = bind.execute(sa.text("SELECT id FROM districts WHERE name = :n"), {"n": ADOPT_DISTRICT}).scalar_one()
    bind.execute(sa.text("INSERT INTO streets (district_id, name, created_at) VALUES (:d, :n, CURRENT_TIMESTAMP)"),
                 {"d": district, "n": ADOPT_STREET})
    street = bind.execute(sa.text("SELECT id FROM streets WHERE district_id = :d"), {"d": district}).scalar_one()
    bind.execute(sa.text("UPDATE communities SET street_id = :s"), {"s": street})
    bind.execute(sa.text("UPDATE departments SET level = 'district', district_id = :d"), {"d": district})
    bind.execute(sa.text("UPDATE departments SET level = 'street', street_id = :s WHERE name = :n"),
                 {"s": street, "n": STREET_OFFICE})


def upgrade() -> None:
    _create_tables()
    with op.batch_alter_table("communities") as batch:
        batch.add_column(sa.Column("street_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_communities_street_id", "streets", ["street_id"], ["id"])
        batch.create_index("ix_communities_street_id", ["street_id"])
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("level", sa.String(length=16), nullable=False, server_default="district"))
        batch.add_column(sa.Column("district_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("street_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_departments_district_id", "districts", ["district_id"], ["id"])
        batch.create_foreign_key("fk_departments_street_id", "streets", ["street_id"], ["id"])
        batch.drop_index("ix_departments_name")
        batch.create_index("ix_departments_name", ["name"], unique=False)
        batch.create_index("ix_departments_district_id", ["district_id"])
        batch.create_unique_constraint("uq_departments_level_name", ["name", "level", "district_id", "street_id"])
    _move_flat_setup()


def downgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.drop_constraint("uq_departments_level_name", type_="unique")
        batch.drop_index("ix_departments_district_id")
        batch.drop_index("ix_departments_name")
        batch.create_index("ix_departments_name", ["name"], unique=True)
        batch.drop_constraint("fk_departments_street_id", type_="foreignkey")
        batch.drop_constraint("fk_departments_district_id", type_="foreignkey")
        batch.drop_column("street_id")
        batch.drop_column("district_id")
        batch.drop_column("level")
    with op.batch_alter_table("communities") as batch:
        batch.drop_index("ix_communities_street_id")
        batch.drop_constraint("fk_communities_street_id", type_="foreignkey")
        batch.drop_column("street_id")
    op.drop_table("org_imports")
    op.drop_table("streets")
    op.drop_table("districts")
