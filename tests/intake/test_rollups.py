"""Monthly rollups: closed months are read as rows, and a correction of a closed month is never hidden."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from intake.reports.figures import DISTRICT_SCOPE, Scope, ScopeKind, get_figures
from intake.reports.rollups import get_trend, refresh_rollups
from intake.store.models import MONTH_ROLLUPS, ROLLUP_MONTHS, TASKS
from intake.store.models import TASK_TARGETS as TARGETS
from tests.fake_wechat_api import add_task, at, insert, notify_settings, running_services

NOW = at("2026-12-10 12:00")


@pytest.fixture
async def services(tmp_path, db_url):
    async with running_services(notify_settings(db_url, tmp_path)) as services:
        xf = await insert(services.engine, "communities", name="幸福社区", staff=9)
        hp = await insert(services.engine, "communities", name="和平社区", staff=8)
        await add_task(services.engine, received_at=at("2026-10-12 10:00"), community_ids=[xf],
                       due=dt.date(2026, 10, 20))
        await add_task(services.engine, received_at=at("2026-11-02 10:00"), community_ids=[xf, hp],
                       due=dt.date(2026, 11, 20), kind="survey", quantity_value=40, quantity_unit="户")
        await add_task(services.engine, received_at=at("2026-12-02 10:00"), community_ids=[hp],
                       due=dt.date(2026, 12, 20))
        yield services


async def _rolled_months(services) -> set[str]:
    async with services.engine.connect() as conn:
        return set((await conn.execute(sa.select(ROLLUP_MONTHS.c.month).where(
            ROLLUP_MONTHS.c.computed_at.is_not(None)))).scalars())


async def _live(services, month: str, scope: Scope = DISTRICT_SCOPE):
    async with services.engine.connect() as conn:
        return await get_figures(conn, month=month, scope=scope, settings=services.settings, now=NOW)


async def _trend(services, scope: Scope = DISTRICT_SCOPE):
    async with services.engine.connect() as conn:
        return await get_trend(conn, month="2026-12", scope=scope, settings=services.settings, now=NOW)


async def test_closed_months_are_rolled_up_and_read_back_the_same(services) -> None:
    assert await refresh_rollups(services, now=NOW, limit=30) == 24
    assert {"2026-10", "2026-11"} <= await _rolled_months(services)
    assert "2026-12" not in await _rolled_months(services)  # the open month is always live
    async with services.engine.connect() as conn:
        rows = (await conn.execute(sa.select(sa.func.count()).select_from(MONTH_ROLLUPS).where(
            MONTH_ROLLUPS.c.month == "2026-11"))).scalar_one()
    assert rows == 4  # the district, both communities and the yearly report's own rows (burden)
    for scope in (DISTRICT_SCOPE, Scope(ScopeKind.community, "幸福社区")):
        trend = await _trend(services, scope)
        assert [f.month for f in trend][-3:] == ["2026-10", "2026-11", "2026-12"]
        assert trend[-2] == await _live(services, "2026-11", scope) and trend[-2].total.tasks == 1
    assert await refresh_rollups(services, now=NOW) == 0  # nothing left to do


async def test_correcting_a_task_of_a_closed_month_drops_that_months_rollup_only(services) -> None:
    await refresh_rollups(services, now=NOW, limit=30)
    async with services.engine.begin() as conn:
        await conn.execute(sa.update(TASKS).where(TASKS.c.received_at < at("2026-11-30 00:00"),
                                                  TASKS.c.received_at >= at("2026-11-01 00:00"))
                           .values(status="refused"))
    rolled = await _rolled_months(services)
    assert "2026-11" not in rolled and "2026-10" in rolled
    assert (await _trend(services))[-2].total.refused == 1  # read live meanwhile
    assert await refresh_rollups(services, now=NOW) == 1
    assert (await _trend(services))[-2] == await _live(services, "2026-11")


async def test_a_late_completion_drops_the_rollup_of_the_month_it_was_due(services) -> None:
    await refresh_rollups(services, now=NOW, limit=30)
    assert (await _trend(services))[-3].timeliness.overdue == 1
    async with services.engine.begin() as conn:
        await conn.execute(sa.update(TARGETS).where(TARGETS.c.due_date == dt.date(2026, 10, 20))
                           .values(status="done", done_at=at("2026-12-01 09:00")))
    assert "2026-10" not in await _rolled_months(services)
    october = (await _trend(services))[-3].timeliness
    assert (october.overdue, october.late) == (0, 1)


async def test_a_change_while_a_month_is_being_rolled_up_discards_that_rollup(services) -> None:
    """Step (1) of a rollup leaves a pending marker; a change of the month deletes it, so step (3) stores nothing."""
    async with services.engine.begin() as conn:
        await conn.execute(sa.insert(ROLLUP_MONTHS).values(
            month="2026-11", starts_at=at("2026-11-01 00:00"), ends_at=at("2026-12-01 00:00"),
            first_day=dt.date(2026, 11, 1), last_day=dt.date(2026, 11, 30), computed_at=None))
    await add_task(services.engine, received_at=at("2026-11-29 10:00"), community_ids=[1])
    async with services.engine.connect() as conn:
        assert (await conn.execute(sa.select(ROLLUP_MONTHS.c.month))).first() is None


async def test_the_directorys_department_tasks_are_the_dashboards_13_months_kept_or_live(services) -> None:
    from intake.reports.rollups import get_department_tasks

    await add_task(services.engine, received_at=at("2025-10-30 10:00"), community_ids=[],
                   due=dt.date(2025, 11, 5))  # fourteen months back: outside the table
    async with services.engine.connect() as conn:
        live = await get_department_tasks(conn, month="2026-12", settings=services.settings, now=NOW)
    trend = await _trend(services)
    table: dict[str, int] = {}
    for figures in trend:
        for name, counts in figures.by_department:
            table[name] = table.get(name, 0) + counts.tasks
    assert live == table and sum(live.values()) == 3
    await refresh_rollups(services, now=NOW, limit=30)  # October and November now read from their rollups
    async with services.engine.begin() as conn:  # a kept month is read back, not recounted: rename in its rollup
        content = (await conn.execute(sa.select(MONTH_ROLLUPS.c.content).where(
            MONTH_ROLLUPS.c.month == "2026-11", MONTH_ROLLUPS.c.scope == DISTRICT_SCOPE.key))).scalar_one()
        await conn.execute(sa.update(MONTH_ROLLUPS).where(MONTH_ROLLUPS.c.month == "2026-11",
                                                          MONTH_ROLLUPS.c.scope == DISTRICT_SCOPE.key)
                           .values(content=json.loads(json.dumps(content, ensure_ascii=False).replace("民政局", "教育局"))))
    async with services.engine.connect() as conn:
        kept = await get_department_tasks(conn, month="2026-12", settings=services.settings, now=NOW)
    assert kept == {"民政局": 2, "教育局": 1}  # October's rollup and December live; November as kept
