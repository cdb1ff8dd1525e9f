"""Triggers that keep monthly rollups correct: any change to a task or an assignment of a rolled-up
month deletes that month's ``rollup_months`` row and its ``month_rollups`` (figures are then read live
until the sweep computes them again, see ``intake.reports.rollups``).

A month is hit by a task row through its ``received_at`` (inside [starts_at, ends_at)) and its
``deadline``, and by an assignment row through its ``due_date`` and its task's ``received_at``. The
statements compare stored values with stored values, so no time zone arithmetic happens in SQL.
Migration 0008 creates them from here.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["create_statements", "drop_statements"]

_TASKS_EVENTS = ("INSERT", "UPDATE", "DELETE")
_TARGETS_EVENTS = ("INSERT", "UPDATE", "DELETE")


def _hit(received_at: str, day: str) -> str:
    """The rollup months a row with this `received_at` and due `day` belongs to (SQL condition)."""
    return (f"(starts_at <= {received_at} AND ends_at > {received_at}) "
            f"OR ({day} IS NOT NULL AND first_day <= {day} AND last_day >= {day})")


def _deletes(conditions: Sequence[str]) -> list[str]:
    where = " OR ".join(f"({c})" for c in conditions)
    return [f"DELETE FROM month_rollups WHERE month IN (SELECT month FROM rollup_months WHERE {where})",
            f"DELETE FROM rollup_months WHERE {where}"]


def _task_conditions(row: str) -> str:
    return _hit(f"{row}.received_at", f"{row}.deadline")


def _target_conditions(row: str) -> str:
    return _hit(f"(SELECT received_at FROM tasks WHERE id = {row}.task_id)", f"{row}.due_date")


def _rows(event: str) -> tuple[str, ...]:
    return {"INSERT": ("NEW",), "UPDATE": ("OLD", "NEW"), "DELETE": ("OLD",)}[event]


def _sqlite() -> list[str]:
    statements = []
    for table, events, condition in (("tasks", _TASKS_EVENTS, _task_conditions),
                                     ("task_targets", _TARGETS_EVENTS, _target_conditions)):
        for event in events:
            body = "; ".join(_deletes([condition(row) for row in _rows(event)]))
            statements.append(f"CREATE TRIGGER trg_rollup_{table}_{event.lower()} AFTER {event} ON {table} "
                              f"FOR EACH ROW BEGIN {body}; END")
    return statements


def _postgresql() -> list[str]:
    statements = []
    for table, condition in (("tasks", _task_conditions), ("task_targets", _target_conditions)):
        old = "; ".join(_deletes([condition("OLD")]))
        new = "; ".join(_deletes([condition("NEW")]))
        statements.append(
            f"CREATE FUNCTION trg_rollup_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {old}; END IF; "
            f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {new}; END IF; "
            f"RETURN NULL; END $$"
        )
        statements.append(f"CREATE TRIGGER trg_rollup_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                          f"FOR EACH ROW EXECUTE FUNCTION trg_rollup_{table}()")
    return statements


def create_statements(dialect: str) -> list[str]:
    return _postgresql() if dialect == "postgresql" else _sqlite()


def drop_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP FUNCTION IF EXISTS trg_rollup_{t}() CASCADE" for t in ("tasks", "task_targets")]
    return [f"DROP TRIGGER IF EXISTS trg_rollup_{t}_{e.lower()}"
            for t, events in (("tasks", _TASKS_EVENTS), ("task_targets", _TARGETS_EVENTS)) for e in events]
