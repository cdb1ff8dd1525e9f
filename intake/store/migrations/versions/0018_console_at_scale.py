"""console at scale: the log's search index (jieba terms, FTS5 / GIN) and the review queue's index

Adds ``tasks.search_terms`` and fills it for every stored task with the shipped rules' jieba
dictionary; SQLite indexes the terms in an FTS5 table kept by triggers, PostgreSQL in a GIN index
(``intake.store.search``). ``ix_tasks_status`` becomes ``ix_tasks_status_received`` (status, then
time): the review queue reads one status oldest first, and counts it, from the index alone;
``ix_task_targets_status`` becomes ``ix_task_targets_status_community``: the directory counts each
community's open assignments from the index alone (it read every assignment row).

Filling the terms updates every task, so the monthly rollups are computed again by the next sweep.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-03 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from classifiers import load_rules
from intake.store.search import create_statements, drop_statements, fill_search_terms

revision: str = "0018"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("tasks", sa.Column("search_terms", sa.Text(), server_default="", nullable=False))
    op.drop_index("ix_tasks_status", table_name="tasks")
    op.create_index("ix_tasks_status_received", "tasks", ["status", "received_at"])
    op.drop_index("ix_task_targets_status", table_name="task_targets")
    op.create_index("ix_task_targets_status_community", "task_targets", ["status", "community_id"])
    for statement in create_statements(dialect):
        op.execute(statement)
    fill_search_terms(op.get_bind(), load_rules())


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_index("ix_tasks_status_received", table_name="tasks")
    op.create_index("ix_tasks_status", "tasks", ["status"])
    op.drop_index("ix_task_targets_status_community", table_name="task_targets")
    op.create_index("ix_task_targets_status", "task_targets", ["status"])
    op.drop_column("tasks", "search_terms")  # SQLite 3.35+ drops a column in place (the triggers stay)
