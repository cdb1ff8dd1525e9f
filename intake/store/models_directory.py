"""The directory's version: one number that every change to ``communities``, ``streets`` or ``departments`` raises.

Each web process keeps the directory in memory for its writer (:mod:`intake.store.recent`). At the
start of every write batch it reads this one row and reads the directory again only when the number
moved: a province's 10,000 communities and 1,000 departments are not read per batch, and a change made
by any process (the console, ``jianfu org import``, a department first named in a notice) is seen by
every writer at its next batch. Triggers raise the number in the transaction that changes the
directory, so it becomes visible with the change, never before it. Migration 0016 creates them from here.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from intake.store.columns import _table

__all__ = ["DirectoryVersion", "DIRECTORY_VERSION", "create_statements", "drop_statements"]

_TABLES = ("communities", "departments", "streets")  # a street moved to another district moves its communities
_EVENTS = ("INSERT", "UPDATE", "DELETE")
_BUMP = "UPDATE directory_version SET version = version + 1 WHERE id = 1"


class DirectoryVersion(SQLModel, table=True):
    """One row (``id`` 1): raised by the triggers of :func:`create_statements`."""

    __tablename__ = "directory_version"
    id: int = Field(primary_key=True)
    version: int = 0


DIRECTORY_VERSION = _table(DirectoryVersion)


def create_statements(dialect: str) -> list[str]:
    """The row and the triggers that raise it: per statement on PostgreSQL, per row on SQLite (it has no
    statement triggers; an import of 10,000 communities raises it 10,000 times, which costs nothing)."""
    statements = ["INSERT INTO directory_version (id, version) VALUES (1, 1)"]
    if dialect == "postgresql":
        statements.append("CREATE FUNCTION trg_directory_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                          f"{_BUMP}; RETURN NULL; END $$")
        statements += [f"CREATE TRIGGER trg_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION trg_directory_version()" for table in _TABLES]
        return statements
    statements += [f"CREATE TRIGGER trg_directory_version_{table}_{event.lower()} AFTER {event} ON {table} "
                   f"FOR EACH ROW BEGIN {_BUMP}; END" for table in _TABLES for event in _EVENTS]
    return statements


def drop_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return ["DROP FUNCTION IF EXISTS trg_directory_version() CASCADE"]
    return [f"DROP TRIGGER IF EXISTS trg_directory_version_{table}_{event.lower()}"
            for table in _TABLES for event in _EVENTS]
