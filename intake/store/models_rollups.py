"""Monthly rollups of closed months (issue 14): a month's marker and each scope's figures; and the open
month's figures as of the scheduler's last pass (``open_month_figures``).

See ``intake.reports.rollups`` for how they are computed and ``intake.store.triggers`` for how the
closed months' are kept correct (the open month's are replaced whole every ``[schedule]
open_month_minutes`` and carry the time they were counted at).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Field, SQLModel

from intake.store.columns import _json, _table, _ts

__all__ = ["RollupMonth", "MonthRollup", "OpenMonthFigures", "ROLLUP_MONTHS", "MONTH_ROLLUPS", "OPEN_MONTH_FIGURES"]


class RollupMonth(SQLModel, table=True):
    """A closed month whose figures are kept in ``month_rollups``; deleted (with them) by the triggers of
    ``intake.store.triggers`` when a task or assignment of the month changes. ``computed_at`` is NULL
    while its figures are being computed."""

    __tablename__ = "rollup_months"
    month: str = Field(max_length=7, primary_key=True)  # YYYY-MM, local time
    starts_at: dt.datetime = _ts()  # the month as [starts_at, ends_at) in UTC, for received_at
    ends_at: dt.datetime = _ts()
    first_day: dt.date  # the month's days, for due dates
    last_day: dt.date
    computed_at: dt.datetime | None = _ts(nullable=True)


class MonthRollup(SQLModel, table=True):
    """One scope's figures of a closed month (``intake.reports.figures.Figures.to_json``)."""

    __tablename__ = "month_rollups"
    month: str = Field(max_length=7, primary_key=True, foreign_key="rollup_months.month", ondelete="CASCADE")
    scope: str = Field(max_length=96, primary_key=True)  # district / community:NAME / department:NAME
    content: dict[str, Any] = _json(dict)


class OpenMonthFigures(SQLModel, table=True):
    """One scope's figures of the open month as counted at ``as_of`` (``Figures.to_json``), and its open
    assignments then; every row is replaced at each count, so a dashboard or the directory reads rows instead
    of aggregating the log."""

    __tablename__ = "open_month_figures"
    scope: str = Field(max_length=96, primary_key=True)  # district / community:NAME
    month: str = Field(max_length=7)  # YYYY-MM, local time: the month open at as_of
    as_of: dt.datetime = _ts()
    content: dict[str, Any] = _json(dict)
    open_assignments: int = 0  # the scope's assignments still open at as_of, whatever their month (the directory's)


ROLLUP_MONTHS = _table(RollupMonth)
MONTH_ROLLUPS = _table(MonthRollup)
OPEN_MONTH_FIGURES = _table(OpenMonthFigures)
