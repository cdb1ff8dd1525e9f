"""Column helpers of the tables: aware timestamps stored as UTC, JSON columns, Core tables of models.

Apart from :mod:`intake.store.models` so that the table modules can share them without an import cycle.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

__all__ = ["AwareDateTime", "utcnow", "_ts", "_json", "_table"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AwareDateTime(TypeDecorator[dt.datetime]):
    """Stores aware datetimes as UTC and always returns aware UTC datetimes (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; every datetime must be timezone-aware")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    """An aware timestamp column; non-nullable ones default to now (UTC) when not given."""
    return Field(
        default=None,
        sa_column=sa.Column(AwareDateTime(), nullable=nullable, index=index, default=None if nullable else utcnow),
    )


def _json(default: Any = None) -> Any:
    return Field(default_factory=lambda: default() if callable(default) else default, sa_column=sa.Column(sa.JSON, nullable=True))


def _table(model: type[SQLModel]) -> sa.Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    return table
