"""A community's side (issue 12): the notices a head reported and its counter work. Imported by
``intake.store.models``, which re-exports them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from intake.store.columns import _table, _ts

__all__ = ["TaskReport", "CounterEntry", "TASK_REPORTS", "COUNTER_ENTRIES"]


class TaskReport(SQLModel, table=True):
    """A notice a community head reported (it reached the community outside Jianfu), and the task it counts as."""

    __tablename__ = "task_reports"
    id: int | None = Field(default=None, primary_key=True)
    task_id: int | None = Field(default=None, foreign_key="tasks.id", index=True)  # None while the issuer is asked
    community_id: int = Field(foreign_key="communities.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="accounts.id")
    msg_id: str = Field(max_length=128, unique=True)
    raw_text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    linked: bool = False  # matched a task already logged: counted once, under that task
    received_at: dt.datetime = _ts()


class CounterEntry(SQLModel, table=True):
    """One line of counter work (a certificate, an inspection, a meeting, a secondment, a platform)."""

    __tablename__ = "counter_entries"
    __table_args__ = (sa.Index("ix_counter_entries_community_day", "community_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="communities.id")  # ix_counter_entries_community_day
    account_id: int | None = Field(default=None, foreign_key="accounts.id")
    kind: str = Field(max_length=16)  # CounterKind
    day: dt.date
    count: int = 1  # certificates: copies; others 1
    party: str = Field(max_length=64)  # who asked, inspected, held the meeting, borrowed, runs the platform
    subject: str = Field(default="", max_length=200)
    refused: bool = False  # certificates: the community refused to issue it
    decision: str | None = Field(default=None, max_length=16)  # certificates: the list's issue/conditional/refuse
    people: int | None = None
    hours: float | None = None
    period_days: int | None = None  # secondments
    systems: int | None = None  # platforms
    raw_text: str = Field(max_length=500)
    removed: bool = False  # undone by the head or deleted by an admin
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()


TASK_REPORTS = _table(TaskReport)
COUNTER_ENTRIES = _table(CounterEntry)
