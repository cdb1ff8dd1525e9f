"""The JobQueue against a frozen clock, digest due-time tables, and the scheduler lock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from intake.calendar import digest_month_due, month_bounds, previous_month
from intake.scheduler import (
    DIGEST_JOB_ID,
    OPEN_MONTH_JOB_ID,
    PRUNE_JOB_ID,
    SWEEP_JOB_ID,
    AdvisorySchedulerLock,
    FileSchedulerLock,
    JobQueue,
    run_background,
)
from intake.store.db import create_engine
from tests.fake_wechat_api import at, insert, notify_settings, running_services

TZ = ZoneInfo("Asia/Shanghai")


async def _noop() -> None:
    return None


async def test_job_queue_fire_times_from_a_frozen_clock() -> None:
    jobs = JobQueue(TZ)
    now = at("2026-11-27 10:00")
    jobs.run_repeating(SWEEP_JOB_ID, _noop, seconds=30, first_in=0.5, now=now)
    jobs.run_monthly(DIGEST_JOB_ID, _noop, day=1, hour=8)
    jobs.run_once("late-reply", _noop, when=at("2026-11-27 10:05"))
    assert jobs.job_ids() == sorted([SWEEP_JOB_ID, DIGEST_JOB_ID, "late-reply"])
    assert jobs.next_fire_time(SWEEP_JOB_ID, now=now) == now + dt.timedelta(seconds=0.5)
    assert jobs.next_fire_time(DIGEST_JOB_ID, now=now) == at("2026-12-01 08:07")
    assert jobs.next_fire_time(DIGEST_JOB_ID, now=at("2026-12-31 09:00")) == at("2027-01-01 08:07")
    assert jobs.next_fire_time("late-reply", now=now) == at("2026-11-27 10:05")
    assert jobs.next_fire_time("missing", now=now) is None


@pytest.mark.parametrize(
    ("now", "month"),
    [
        ("2026-12-01 07:59", None),
        ("2026-12-01 08:00", "2026-11"),
        ("2026-12-15 03:00", "2026-11"),  # a late start still catches up
        ("2027-01-01 08:30", "2026-12"),
        ("2026-11-30 23:59", "2026-10"),
    ],
)
def test_digest_month_due(now: str, month: str | None) -> None:
    assert digest_month_due(now=at(now), day=1, hour=8, tz=TZ) == month


def test_month_bounds_are_local() -> None:
    start, end = month_bounds("2026-12", TZ)
    assert start.astimezone(dt.UTC) == dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)
    assert end == dt.datetime(2027, 1, 1, tzinfo=TZ)
    assert previous_month("2027-01") == "2026-12"
    with pytest.raises(ValueError):
        month_bounds("2026-13", TZ)


async def test_only_one_holder_of_the_sqlite_lock(tmp_path) -> None:
    first, second = FileSchedulerLock(tmp_path / "db.lock"), FileSchedulerLock(tmp_path / "db.lock")
    assert await first.acquire()
    assert not await second.acquire()
    await first.release()
    assert await second.acquire()
    await second.release()


async def test_run_background_takes_the_lock_and_a_second_process_does_not(tmp_path, db_url) -> None:
    settings = notify_settings(db_url, tmp_path)
    async with running_services(settings) as services:
        async with run_background(services) as leader:
            assert leader.is_leader and leader.jobs is not None
            assert leader.jobs.job_ids() == sorted([SWEEP_JOB_ID, DIGEST_JOB_ID, PRUNE_JOB_ID, OPEN_MONTH_JOB_ID])
            async with run_background(services) as follower:
                assert not follower.is_leader and follower.jobs is None
        assert not leader.is_leader
        async with run_background(services) as again:  # released on exit
            assert again.is_leader


@pytest.mark.postgres
async def test_one_advisory_lock_holder_on_postgresql_and_a_takeover_when_it_dies(tmp_path, pg_url) -> None:
    settings = notify_settings(pg_url, tmp_path)
    first_process, second_process = create_engine(settings), create_engine(settings)
    leader, follower = AdvisorySchedulerLock(first_process), AdvisorySchedulerLock(second_process)
    try:
        assert await leader.acquire()
        assert not await follower.acquire()
        assert not await follower.acquire()  # a failed attempt leaves no connection or lock behind
        async with second_process.connect() as conn:
            holders = (await conn.execute(sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"))).scalars().all()
            assert len(holders) == 1
            # the leader's process dies (its session ends, waited for): the lock goes with it
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": holders[0]})
        assert await follower.acquire()
        await leader.release()  # releasing through a dead connection does not raise
        assert not await AdvisorySchedulerLock(first_process).acquire()
        await follower.release()
        assert await leader.acquire()
        await leader.release()
    finally:
        await first_process.dispose()
        await second_process.dispose()


@pytest.mark.postgres
async def test_run_background_on_postgresql_elects_one_leader_across_processes(tmp_path, pg_url) -> None:
    settings = notify_settings(pg_url, tmp_path)
    async with running_services(settings) as first, running_services(settings) as second:
        async with run_background(first) as leader, run_background(second) as follower:
            assert leader.is_leader and not follower.is_leader and follower.jobs is None
        async with run_background(second) as again:
            assert again.is_leader


@pytest.mark.postgres
async def test_a_leader_that_lost_its_lock_connection_stops_and_another_takes_over(tmp_path, pg_url) -> None:
    settings = notify_settings(pg_url, tmp_path)
    async with running_services(settings) as first, running_services(settings) as second, \
            run_background(first) as leader:
        assert leader.is_leader and leader.sweep is not None
        await leader.sweep()
        assert leader.sweeps >= 1  # holding the lock: it swept (the scheduler's first tick may have, too)
        async with second.engine.connect() as conn:
            await conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' AND granted"))
        await leader.sweep()  # the next tick notices the lost lock instead of sweeping
        assert not leader.is_leader and leader.jobs is None
        swept = leader.sweeps
        await leader.sweep()
        assert leader.sweeps == swept  # no longer sweeps at all
        async with run_background(second) as successor:
            assert successor.is_leader


async def test_the_holder_counts_the_open_month_for_the_dashboards_when_its_count_is_old(tmp_path, db_url) -> None:
    from intake.store.models import OPEN_MONTH_FIGURES

    settings = notify_settings(db_url, tmp_path)
    async with running_services(settings) as services:
        await insert(services.engine, "communities", name="幸福社区", staff=9)

        async def counted() -> list[tuple[str, dt.datetime]]:
            async with services.engine.connect() as conn:
                return [tuple(r) for r in await conn.execute(
                    sa.select(OPEN_MONTH_FIGURES.c.scope, OPEN_MONTH_FIGURES.c.as_of).order_by(OPEN_MONTH_FIGURES.c.scope))]

        async with run_background(services) as leader:
            assert leader.open_month is not None
            await leader.open_month()
            first = await counted()
            assert [scope for scope, _ in first] == ["community:幸福社区", "district"]
            await leader.open_month()  # counted a moment ago: not again
            assert await counted() == first
    off = settings.model_copy(update={"schedule": settings.schedule.model_copy(update={"open_month_minutes": 0})})
    async with running_services(off) as services, run_background(services) as leader:
        assert OPEN_MONTH_JOB_ID not in (leader.jobs.job_ids() if leader.jobs else [])
