"""Prepared statements on the sqlite3 cursor store and read exactly what SQLAlchemy would."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from intake.store.db import create_thread_engine
from intake.store.models import PROCESSED_MESSAGES, REMINDERS, TASKS
from intake.store.sqlite_fast import Prepared
from intake.store.writer import ThreadConnection
from tests.conftest import make_settings

AT = dt.datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=dt.UTC)


def _task(code: str, msg_id: str) -> dict[str, Any]:
    return {
        "code": code, "msg_id": msg_id, "channel": "wechat", "department": "民政局", "raw_text": "请各社区报送台账。",
        "kind": "report", "nature": "administrative", "listing": "positive", "deadline": dt.date(2026, 12, 5),
        "deadline_time": dt.time(17, 30), "communities": ["幸福社区"], "keywords": ["台账", "报送"],
        "evidence": {"kind": {"why": "“报送”指向报表"}}, "funded": False, "emergency": True, "confidence": 0.75,
        "needs_review": False, "rules_version": "v1", "status": "accepted", "repeat_collection": False,
        "short_notice": True, "corrected": False, "amount_yuan": 1200.5, "received_at": AT, "created_at": AT,
        "updated_at": AT,
    }


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def thread_engine(sqlite_url: str) -> Any:
    engine = create_thread_engine(make_settings(sqlite_url))
    assert engine is not None
    yield engine
    engine.dispose()


def test_fast_path_stores_byte_for_byte_what_sqlalchemy_stores(thread_engine: sa.Engine) -> None:
    insert = Prepared(sa.insert(TASKS).returning(TASKS.c.id))
    with thread_engine.begin() as sync:
        fast_id = _run(insert.rows(ThreadConnection(sync), _task("R-FAST", "m1")))[0][0]  # type: ignore[arg-type]
        slow_id = sync.execute(sa.insert(TASKS).returning(TASKS.c.id), _task("R-SLOW", "m2")).scalar_one()
        raw = sync.exec_driver_sql("SELECT * FROM tasks WHERE id IN (?, ?) ORDER BY id", (fast_id, slow_id)).all()
    fast, slow = (dict(zip(raw[0]._fields, r, strict=True)) for r in raw)
    for row in (fast, slow):
        del row["id"], row["code"], row["msg_id"]
    assert fast == slow
    assert fast["received_at"] == "2026-11-27 09:30:15.123456"  # SQLAlchemy's SQLite text form, UTC


def test_mappings_convert_like_sqlalchemy(thread_engine: sa.Engine) -> None:
    select = Prepared(sa.select(TASKS.c.code, TASKS.c.emergency, TASKS.c.received_at, TASKS.c.keywords,
                                TASKS.c.deadline).where(TASKS.c.code == sa.bindparam("code")))
    with thread_engine.begin() as sync:
        sync.execute(sa.insert(TASKS), _task("R-READ", "m3"))
        fast = _run(select.mappings(ThreadConnection(sync), {"code": "R-READ"}))  # type: ignore[arg-type]
        slow = [dict(r._mapping) for r in sync.execute(select.statement, {"code": "R-READ"})]
    assert fast == slow
    assert fast[0]["emergency"] is True and fast[0]["received_at"] == AT and fast[0]["deadline"] == dt.date(2026, 12, 5)


def test_column_defaults_must_be_given(thread_engine: sa.Engine) -> None:
    insert = Prepared(sa.insert(REMINDERS))
    with thread_engine.begin() as sync, pytest.raises(ValueError, match="cancelled"):
        _run(insert.many(ThreadConnection(sync), [{"target_id": 1, "kind": "due", "fire_at": AT}]))  # type: ignore[arg-type]


def test_driver_errors_come_out_as_sqlalchemy_errors(thread_engine: sa.Engine) -> None:
    insert = Prepared(sa.insert(PROCESSED_MESSAGES))
    row = {"key": "wechat:1", "channel": "wechat", "reply": "已登记", "created_at": AT}
    with thread_engine.begin() as sync:
        conn = ThreadConnection(sync)
        _run(insert.rows(conn, row))  # type: ignore[arg-type]
        with pytest.raises(sa.exc.IntegrityError):
            _run(insert.rows(conn, row))  # type: ignore[arg-type]


def test_installed_sqlalchemy_is_the_series_the_fast_path_is_pinned_to() -> None:
    """sqlite_fast reads SQLAlchemy internals; pyproject pins the minor series, and this run uses it."""
    import re
    import tomllib
    from pathlib import Path

    deps = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    spec = next(d for d in deps if d.startswith("sqlalchemy"))
    low, high = re.fullmatch(r"sqlalchemy\[asyncio\]>=(\d+\.\d+)\.\d+,<(\d+\.\d+)", spec).groups()  # type: ignore[union-attr]
    installed = tuple(int(p) for p in sa.__version__.split(".")[:2])
    assert tuple(int(p) for p in low.split(".")) <= installed < tuple(int(p) for p in high.split("."))


def test_reminder_and_audit_rows_on_the_fast_path_match_sqlalchemys(thread_engine: sa.Engine) -> None:
    """The hot path's other inserts (intake.reminders, intake.audit) store what SQLAlchemy stores."""
    from intake.store.models import AUDIT_LOG

    reminder = {"target_id": 1, "kind": "before_3", "fire_at": AT, "cancelled": False}
    audit = {"at": AT, "actor": "account:1", "entity": "task", "entity_id": 7, "action": "create",
             "before": None, "after": {"code": "R-1", "状态": "已派发"}}
    for table, row, other in ((REMINDERS, reminder, {"kind": "due"}), (AUDIT_LOG, audit, {"action": "edit"})):
        with thread_engine.connect() as sync:
            sync.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # no target 1 needed: rolled back below
            _run(Prepared(sa.insert(table)).many(ThreadConnection(sync), [row]))  # type: ignore[arg-type]
            sync.execute(sa.insert(table), {**row, **other})
            raw = sync.exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY id").all()
            sync.rollback()
        fast, slow = (dict(zip(r._fields, r, strict=True)) for r in raw[-2:])
        for key in ("id", *other):
            del fast[key], slow[key]
        assert fast == slow
