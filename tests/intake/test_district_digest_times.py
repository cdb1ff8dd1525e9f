"""Each district's digest at its own time (issue 17): the slots, the scheduler's jobs against a frozen clock,
and two districts of one deployment sent at their own times, on SQLite and on PostgreSQL. No sleeps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from intake.org import get_district_id, sync_org_from_config
from intake.reports.digest_times import DigestSlot, plan_digest_slots
from intake.reports.monthly import send_monthly_digests
from intake.scheduler import DIGEST_JOB_ID, run_background
from intake.settings import CommunitySettings, DistrictSettings, StreetSettings
from intake.store.models import COMMUNITIES
from tests.fake_wechat_api import add_task, at, notify_settings, running_services

TREE = [
    DistrictSettings(name="甲区", streets=(StreetSettings(name="甲街道", communities=(
        CommunitySettings(name="幸福社区"), CommunitySettings(name="和平社区"))),)),
    DistrictSettings(name="乙区", digest_day=3, digest_hour=20, streets=(StreetSettings(name="乙街道", communities=(
        CommunitySettings(name="东风社区"),)),)),
]


def test_a_district_with_its_own_time_gets_its_own_slot_and_the_rest_keep_the_schedules() -> None:
    slots = plan_digest_slots(day=1, hour=8, district_times={7: (3, 20), 8: (None, 8), 9: (3, None), 10: (3, 20)})
    assert slots == [DigestSlot(day=1, hour=8, default=True, excluded=frozenset({7, 9, 10})),
                     DigestSlot(day=3, hour=8, default=False, districts=frozenset({9})),
                     DigestSlot(day=3, hour=20, default=False, districts=frozenset({7, 10}))]
    assert slots[0].job_id == DIGEST_JOB_ID and slots[0].sends(8) and slots[0].sends(None) and not slots[0].sends(7)
    assert slots[2].sends(7) and not slots[2].sends(8) and not slots[2].sends(None)
    assert plan_digest_slots(day=1, hour=8, district_times={}) == [DigestSlot(day=1, hour=8, default=True)]


@pytest.fixture
async def services(tmp_path: Any, db_url: str) -> Any:
    """Two districts (乙区 sends on the 3rd at 20:00), and November tasks in 幸福社区 and 东风社区."""
    async with running_services(notify_settings(db_url, tmp_path)) as services:
        async with services.engine.begin() as conn:
            await sync_org_from_config(conn, districts=TREE, departments=["民政局"], now=at("2026-11-01 08:00"))
            ids = dict((await conn.execute(sa.select(COMMUNITIES.c.name, COMMUNITIES.c.id))).all())
        for name in ("幸福社区", "东风社区"):
            await add_task(services.engine, received_at=at("2026-11-10 10:00"), community_ids=[ids[name]],
                           due=dt.date(2026, 11, 20))
        yield services


async def _archived(services: Any) -> list[str]:
    async with services.engine.connect() as conn:
        return sorted((await conn.execute(sa.text("SELECT scope FROM digests WHERE month = '2026-11'"))).scalars())


async def test_the_scheduler_runs_each_districts_digest_at_its_own_time(services: Any) -> None:
    async with run_background(services) as leader:
        assert leader.jobs is not None
        own = "jianfu.monthly_digest.day03.h20"
        assert DIGEST_JOB_ID in leader.jobs.job_ids() and own in leader.jobs.job_ids()
        assert leader.jobs.next_fire_time(DIGEST_JOB_ID, now=at("2026-11-20 00:00")) == at("2026-12-01 08:07")
        assert leader.jobs.next_fire_time(own, now=at("2026-11-20 00:00")) == at("2026-12-03 20:07")


async def test_two_districts_of_one_deployment_get_their_digests_at_their_own_times(services: Any) -> None:
    async with services.engine.connect() as conn:
        other = await get_district_id(conn, name="乙区")
    assert other is not None
    default, own = plan_digest_slots(day=1, hour=8, district_times={other: (3, 20)})

    assert await send_monthly_digests(services, now=at("2026-12-01 08:07"), slot=default) > 0
    first = await _archived(services)
    assert "幸福社区" in first and "district" in first and "东风社区" not in first
    assert await send_monthly_digests(services, now=at("2026-12-01 09:00"), slot=default) == 0  # once
    assert await send_monthly_digests(services, now=at("2026-12-03 19:59"), slot=own) == 0  # not yet its time

    assert await send_monthly_digests(services, now=at("2026-12-03 20:07"), slot=own) > 0
    second = await _archived(services)
    assert set(second) - set(first) >= {"东风社区"} and all(s in second for s in first)
    assert await send_monthly_digests(services, now=at("2026-12-03 20:30"), slot=own) == 0  # once
    async with services.engine.connect() as conn:
        recipients = (await conn.execute(sa.text(
            "SELECT recipient FROM outbox WHERE kind = 'digest' AND recipient = '东风社区'"))).scalars().all()
    assert recipients == ["东风社区"]  # one message, at 乙区's time
