"""Due-time functions over tables of cases, and rolling recurring targets in a real database."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from intake.reminders import (
    DueReminder,
    add_period,
    coalesce_due,
    is_roll_due,
    is_short_notice,
    next_occurrence,
    plan_reminders,
    working_days_between,
)
from intake.settings import ScheduleSettings
from intake.tasks import roll_recurring
from tests.fake_wechat_api import add_task, at, insert, notify_settings, running_services

TZ = ZoneInfo("Asia/Shanghai")
D = dt.date


@pytest.mark.parametrize(
    ("anchor", "recurrence", "count", "expected"),
    [
        (D(2026, 1, 31), "monthly", 1, D(2026, 2, 28)),
        (D(2026, 1, 31), "monthly", 2, D(2026, 3, 31)),  # no drift to the 28th
        (D(2028, 1, 31), "monthly", 1, D(2028, 2, 29)),  # leap year
        (D(2026, 11, 30), "quarterly", 1, D(2027, 2, 28)),
        (D(2026, 12, 5), "monthly", 1, D(2027, 1, 5)),
        (D(2028, 2, 29), "yearly", 1, D(2029, 2, 28)),
        (D(2026, 12, 28), "weekly", 1, D(2027, 1, 4)),
        (D(2026, 5, 5), "weekly", 0, D(2026, 5, 5)),
    ],
)
def test_add_period_keeps_the_anchor_day(anchor: dt.date, recurrence: str, count: int, expected: dt.date) -> None:
    assert add_period(anchor, recurrence, count) == expected


@pytest.mark.parametrize(
    ("anchor", "recurrence", "after", "expected"),
    [
        (D(2026, 12, 5), "monthly", D(2026, 12, 5), D(2027, 1, 5)),
        (D(2026, 12, 5), "monthly", D(2026, 12, 4), D(2026, 12, 5)),
        (D(2026, 1, 31), "monthly", D(2026, 4, 15), D(2026, 4, 30)),
        (D(2026, 1, 31), "monthly", D(2026, 4, 30), D(2026, 5, 31)),
        (D(2026, 11, 30), "weekly", D(2026, 12, 14), D(2026, 12, 21)),  # Mondays
        (D(2026, 3, 31), "quarterly", D(2026, 4, 1), D(2026, 6, 30)),
        (D(2026, 12, 31), "yearly", D(2027, 12, 31), D(2028, 12, 31)),
        (D(2020, 1, 15), "monthly", D(2026, 11, 27), D(2026, 12, 15)),  # many periods later
    ],
)
def test_next_occurrence(anchor: dt.date, recurrence: str, after: dt.date, expected: dt.date) -> None:
    assert next_occurrence(anchor=anchor, recurrence=recurrence, after=after) == expected


def test_unknown_recurrence_is_an_error() -> None:
    with pytest.raises(ValueError, match="fortnightly"):
        next_occurrence(anchor=D(2026, 1, 1), recurrence="fortnightly", after=D(2026, 1, 1))


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (D(2026, 11, 27), D(2026, 11, 30), 1),  # Fri → Mon
        (D(2026, 11, 23), D(2026, 11, 27), 4),  # Mon → Fri
        (D(2026, 11, 23), D(2026, 12, 7), 10),
        (D(2026, 11, 23), D(2026, 11, 23), 0),
        (D(2026, 11, 30), D(2026, 11, 23), 0),
        (D(2026, 11, 28), D(2026, 11, 29), 0),  # Sat → Sun
    ],
)
def test_working_days_between(start: dt.date, end: dt.date, days: int) -> None:
    assert working_days_between(start, end) == days


@pytest.mark.parametrize(
    ("received", "due", "short"),
    [
        ("2026-11-27 10:00", D(2026, 11, 30), True),  # Friday for Monday
        ("2026-11-23 10:00", D(2026, 11, 26), False),  # Mon for Thu: 3 working days
        ("2026-11-23 10:00", D(2026, 11, 25), True),
        ("2026-11-23 23:30", D(2026, 11, 26), False),  # local date counts, not UTC
    ],
)
def test_is_short_notice(received: str, due: dt.date, short: bool) -> None:
    assert is_short_notice(received_at=at(received), due=due, tz=TZ, working_days=3) is short


def test_plan_reminders_default_offsets_fire_after_nine_never_on_the_hour_or_half() -> None:
    schedule = ScheduleSettings()
    for n in range(200):
        planned = plan_reminders(due=D(2026, 12, 10), received_at=at("2026-11-20 10:00"), schedule=schedule, tz=TZ,
                                 seed=f"R-{n}")
        assert [p.kind for p in planned] == ["before_3", "before_1", "due", "overdue"]
        assert [p.fire_at.astimezone(TZ).date() for p in planned] == [D(2026, 12, 7), D(2026, 12, 9), D(2026, 12, 10),
                                                                      D(2026, 12, 11)]
        for p in planned:
            local = p.fire_at.astimezone(TZ)
            assert local.hour == 9 and 1 <= local.minute <= 8 and local.minute not in (0, 30)


def test_plan_reminders_avoid_the_half_hour_from_a_half_hour_base() -> None:
    schedule = ScheduleSettings(reminder_time="08:29", jitter_minutes=1)  # jitter 1 → would land on :30
    planned = plan_reminders(due=D(2026, 12, 10), received_at=at("2026-11-20 10:00"), schedule=schedule, tz=TZ, seed="x")
    assert {p.fire_at.astimezone(TZ).minute for p in planned} == {31}


@pytest.mark.parametrize(
    ("received", "kinds"),
    [
        ("2026-12-08 15:00", ["before_1", "due", "overdue"]),  # short notice: the 3-days-before one is past
        ("2026-12-10 08:00", ["due", "overdue"]),
        ("2026-12-10 11:00", ["overdue"]),
        ("2026-12-12 11:00", []),
    ],
)
def test_short_notice_skips_reminders_already_past(received: str, kinds: list[str]) -> None:
    planned = plan_reminders(due=D(2026, 12, 10), received_at=at(received), schedule=ScheduleSettings(), tz=TZ, seed="s")
    assert [p.kind for p in planned] == kinds


@pytest.mark.parametrize(
    ("now", "rolls"),
    [("2026-12-10 23:59", False), ("2026-12-11 12:00", False), ("2026-12-12 00:00", True)],
)
def test_roll_waits_for_the_overdue_reminder_day(now: str, rolls: bool) -> None:
    assert is_roll_due(due=D(2026, 12, 10), now=at(now), tz=TZ, schedule=ScheduleSettings()) is rolls


def test_coalesce_sends_each_target_its_latest_due_reminder_once() -> None:
    r = [
        DueReminder(1, 10, "before_3", at("2026-12-07 09:03")),
        DueReminder(2, 10, "before_1", at("2026-12-09 09:03")),
        DueReminder(3, 10, "due", at("2026-12-10 09:03")),
        DueReminder(4, 10, "overdue", at("2026-12-11 09:03")),  # not yet due
        DueReminder(5, 11, "before_1", at("2026-12-09 09:05")),
    ]
    send, skip = coalesce_due(r, now=at("2026-12-10 12:00"))
    assert [x.id for x in send] == [5, 3]
    assert sorted(x.id for x in skip) == [1, 2]
    assert coalesce_due([], now=at("2026-12-10 12:00")) == ([], [])


async def test_roll_recurring_moves_the_target_and_replans(tmp_path, db_url) -> None:
    settings = notify_settings(db_url, tmp_path)
    async with running_services(settings) as services:
        cid = await insert(services.engine, "communities", name="幸福社区", staff=9)
        _, (target,) = await add_task(services.engine, received_at=at("2026-11-02 10:00"), community_ids=[cid],
                                      due=D(2026, 11, 30), recurrence="monthly")
        await insert(services.engine, "reminders", target_id=target, kind="before_1",
                     fire_at=at("2026-11-29 09:04"), cancelled=False)

        async def unit(conn):
            return await roll_recurring(conn, target_id=target, now=at("2026-11-27 16:00"), settings=settings)

        assert await services.writer.submit(unit) is True
        async with services.engine.connect() as conn:
            row = (await conn.execute(sa.text("SELECT due_date, done_at, status FROM task_targets WHERE id=:i"),
                                      {"i": target})).one()
            reminders = (await conn.execute(sa.text(
                "SELECT kind, fire_at, cancelled FROM reminders WHERE target_id=:i ORDER BY id"), {"i": target})).all()
        assert str(row.due_date) == "2026-12-30"
        assert row.status == "open" and row.done_at is not None
        assert [(k, bool(c)) for k, _, c in reminders] == [
            ("before_1", True), ("before_3", False), ("before_1", False), ("due", False), ("overdue", False)
        ]
        _, (plain,) = await add_task(services.engine, received_at=at("2026-11-02 10:00"), community_ids=[cid],
                                     due=D(2026, 11, 30))

        async def not_recurring(conn):
            return await roll_recurring(conn, target_id=plain, now=at("2026-11-27 16:00"), settings=settings)

        assert await services.writer.submit(not_recurring) is False
