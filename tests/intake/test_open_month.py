"""The open month counted for the dashboards: one pass for every scope, read while recent, the log otherwise."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from intake.reports.figures import DISTRICT_SCOPE, Scope, ScopeKind, get_figures
from intake.reports.rollups import count_open_month, get_department_tasks, get_open_month, open_month_due
from intake.store.models import OPEN_MONTH_FIGURES
from tests.fake_wechat_api import add_task, at, insert, notify_settings, running_services

NOW = at("2026-12-10 12:00")
XF = Scope(ScopeKind.community, "幸福社区")


@pytest.fixture
async def services(tmp_path, db_url):
    async with running_services(notify_settings(db_url, tmp_path)) as services:
        xf = await insert(services.engine, "communities", name="幸福社区", staff=9)
        hp = await insert(services.engine, "communities", name="和平社区", staff=8)
        await add_task(services.engine, received_at=at("2026-11-02 10:00"), community_ids=[xf, hp],
                       due=dt.date(2026, 11, 20))
        await add_task(services.engine, received_at=at("2026-12-02 10:00"), community_ids=[hp],
                       due=dt.date(2026, 12, 5))  # overdue at NOW
        await add_task(services.engine, received_at=at("2026-12-03 10:00"), community_ids=[xf, hp],
                       due=dt.date(2026, 12, 20), kind="survey", quantity_value=40, quantity_unit="户")
        yield services


def _with_minutes(settings, minutes: int):
    return settings.model_copy(update={"schedule": settings.schedule.model_copy(update={"open_month_minutes": minutes})})


async def _kept(services, scope, *, now=NOW, settings=None, month="2026-12"):
    async with services.engine.connect() as conn:
        return await get_open_month(conn, month=month, scope=scope, settings=settings or services.settings, now=now)


async def _live(services, scope, month="2026-12"):
    async with services.engine.connect() as conn:
        return await get_figures(conn, month=month, scope=scope, settings=services.settings, now=NOW)


async def test_one_count_keeps_every_scope_the_same_as_the_log(services) -> None:
    assert await open_month_due(services, now=NOW)
    assert await count_open_month(services, now=NOW) == 3  # the district and both communities
    assert not await open_month_due(services, now=NOW + dt.timedelta(minutes=4))
    assert await open_month_due(services, now=NOW + dt.timedelta(minutes=5))
    for scope in (DISTRICT_SCOPE, XF, Scope(ScopeKind.community, "和平社区")):
        kept = await _kept(services, scope)
        assert kept is not None and kept.as_of == NOW
        assert kept.figures == await _live(services, scope)
    district = (await _kept(services, DISTRICT_SCOPE)).figures
    assert (district.total.tasks, district.total.assignments, district.timeliness.overdue) == (2, 3, 1)


async def test_a_count_is_as_of_its_time_until_the_next_replaces_it(services) -> None:
    await count_open_month(services, now=NOW)
    await add_task(services.engine, received_at=at("2026-12-10 12:01"), community_ids=[1])
    later = NOW + dt.timedelta(minutes=6)
    assert (await _kept(services, DISTRICT_SCOPE, now=later)).figures.total.tasks == 2  # counted at NOW
    await count_open_month(services, now=later)
    kept = await _kept(services, DISTRICT_SCOPE, now=later)
    assert kept.as_of == later and kept.figures.total.tasks == 3
    async with services.engine.connect() as conn:  # replaced, not added to
        assert (await conn.execute(sa.select(sa.func.count()).select_from(OPEN_MONTH_FIGURES))).scalar_one() == 3


async def test_an_old_count_another_month_or_counting_off_read_the_log(services) -> None:
    await count_open_month(services, now=NOW)
    assert await _kept(services, DISTRICT_SCOPE, now=NOW + dt.timedelta(minutes=10)) is not None
    assert await _kept(services, DISTRICT_SCOPE, now=NOW + dt.timedelta(minutes=11)) is None  # over 2 × 5 min
    assert await _kept(services, DISTRICT_SCOPE, month="2026-11") is None  # only the open month is counted
    assert await _kept(services, DISTRICT_SCOPE, now=at("2027-01-01 00:01")) is None  # a new month opened
    off = _with_minutes(services.settings, 0)
    assert await _kept(services, DISTRICT_SCOPE, settings=off) is None


async def test_the_directory_reads_the_open_month_from_its_count(services) -> None:
    await count_open_month(services, now=NOW)
    async with services.engine.begin() as conn:  # the count is read back, not the log: rename in the count
        content = (await conn.execute(sa.select(OPEN_MONTH_FIGURES.c.content).where(
            OPEN_MONTH_FIGURES.c.scope == DISTRICT_SCOPE.key))).scalar_one()
        await conn.execute(sa.update(OPEN_MONTH_FIGURES).where(OPEN_MONTH_FIGURES.c.scope == DISTRICT_SCOPE.key)
                           .values(content=json.loads(json.dumps(content, ensure_ascii=False)
                                                      .replace("民政局", "教育局"))))
    async with services.engine.connect() as conn:
        counted = await get_department_tasks(conn, month="2026-12", settings=services.settings, now=NOW)
        live = await get_department_tasks(conn, month="2026-12", settings=_with_minutes(services.settings, 0),
                                          now=NOW)
    assert counted == {"教育局": 2, "民政局": 1} and live == {"民政局": 3}  # November is counted live in both


async def test_the_count_keeps_each_communitys_open_assignments_for_the_directory(services) -> None:
    from intake.reports.rollups import get_counted_open
    from intake.store.models import TASK_TARGETS

    async with services.engine.connect() as conn:
        live = {int(r[0]): int(r[1]) for r in await conn.execute(
            sa.select(TASK_TARGETS.c.community_id, sa.func.count()).where(TASK_TARGETS.c.status == "open")
            .group_by(TASK_TARGETS.c.community_id))}
    assert live == {1: 2, 2: 3}  # November's and December's, whatever their month
    await count_open_month(services, now=NOW)
    async with services.engine.connect() as conn:
        counted = await get_counted_open(conn, settings=services.settings, now=NOW)
        stale = await get_counted_open(conn, settings=services.settings, now=NOW + dt.timedelta(minutes=11))
        off = await get_counted_open(conn, settings=_with_minutes(services.settings, 0), now=NOW)
    assert counted == ({"幸福社区": 2, "和平社区": 3}, NOW)
    assert stale is None and off is None
