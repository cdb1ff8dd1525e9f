"""The monthly run builds every digest from one reading of the month (intake/reports/batch.py): each street's,
each district's and each community's digest must be the one built alone, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from intake.reports.digest import build_digest, build_monthly_digests
from intake.reports.streets import build_area_digest
from intake.store.db import create_engine
from intake.store.values import OrgLevel
from tests.conftest import make_settings
from tests.fake_wechat_api import add_task, insert

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2027, 1, 10, tzinfo=dt.UTC)
MONTH = "2026-06"
JUNE = dt.datetime(2026, 6, 15, 2, 0, tzinfo=dt.UTC)
TASKS, COMMUNITIES, DEPARTMENTS, DISTRICTS, STREETS = 6000, 24, 12, 2, 4  # 6 communities a street


def _seed_statements(dialect: str) -> list[str]:
    spec = importlib.util.spec_from_file_location("bench_digest", ROOT / "bench" / "bench_digest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    statements: list[str] = module.seed_statements(dialect, tasks=TASKS, communities=COMMUNITIES,
                                                   departments=DEPARTMENTS, districts=DISTRICTS, streets=STREETS)
    return statements


async def _what_only_some_scopes_have(engine: Any) -> None:
    """A street office's own tasks (one to no community of its street), 层层加码, ratings from enough
    communities, reported and linked notices, counter work: each read by area in the batch."""
    office = await insert(engine, "departments", id=DEPARTMENTS + 1, name="街道办", level="street", district_id=1,
                          street_id=1, active=True, created_at=JUNE)
    common = {"received_at": JUNE, "department_id": office, "department": "街道办"}
    await add_task(engine, id=TASKS + 1, community_ids=[1, 2], escalation=["deadline"], forwarded_by="街道办",
                   due=dt.date(2026, 6, 20), **common)
    await add_task(engine, id=TASKS + 2, community_ids=[7], funded=False, source="community", **common)
    await add_task(engine, id=TASKS + 3, community_ids=[], funded=False, trace_demand=["拍照"], **common)
    for community in (1, 2, 3, 4, 7):  # department 1 (district 1) rated by five communities of two streets
        await insert(engine, "ratings", community_id=community, department_id=1, month=MONTH, score=2 + community % 3,
                     created_at=JUNE)
    await insert(engine, "ratings", community_id=13, department_id=2, month=MONTH, score=5, created_at=JUNE)
    await insert(engine, "task_reports", task_id=TASKS + 2, community_id=7, msg_id="r-1", raw_text="群里的通知",
                 linked=True, received_at=JUNE)
    for community, kind in ((1, "certificate"), (2, "meeting"), (8, "inspection"), (20, "platform")):
        await insert(engine, "counter_entries", community_id=community, kind=kind, day=JUNE.date(), party="区民政局",
                     raw_text=f"{kind} 一次", hours=1.5, people=3)


async def test_the_monthly_batch_builds_every_street_district_and_community_digest_as_built_alone(db_url) -> None:
    settings = make_settings(db_url)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            for statement in _seed_statements(conn.dialect.name):
                await conn.exec_driver_sql(statement)
        await _what_only_some_scopes_have(engine)
        async with engine.connect() as conn:
            district, *rest = await build_monthly_digests(conn, month=MONTH, settings=settings, now=NOW, streets=True)
            communities, streets = rest[:COMMUNITIES], rest[COMMUNITIES:]
            assert [d.scope for d in streets] == [f"street:{i}" for i in range(1, STREETS + 1)]
            for street in streets:
                alone = await build_area_digest(conn, month=MONTH, level=OrgLevel.street,
                                                area_id=int(street.scope.split(":")[1]), settings=settings, now=NOW)
                assert street == alone, street.scope
            for community in communities[::5]:
                assert community == await build_digest(conn, month=MONTH, community=community.scope,
                                                       settings=settings, now=NOW)
            assert district == await build_digest(conn, month=MONTH, community=None, settings=settings, now=NOW)
            one, *of_one = await build_monthly_digests(conn, month=MONTH, settings=settings, now=NOW,
                                                       district_ids=[2], streets=True)
            assert one == await build_area_digest(conn, month=MONTH, level=OrgLevel.district, area_id=2,
                                                  settings=settings, now=NOW)
    finally:
        await engine.dispose()
    # what the seeded month holds, so the comparisons above compared something
    first = streets[0]
    assert first.label == "区001街道0001" and first.escalations == (("街道办", 1),)
    assert first.community is not None and first.community.counter.certificates == 1
    assert first.community.trace_demands == (("街道办", 1),)
    assert first.tasks > 0 and first.heatmap is not None and len(first.heatmap.communities) == 6
    second = streets[1]  # community 7: a notice the office sent outside its street, reported and linked there
    assert second.community is not None and second.community.linked_reports == 1
    assert [r.department for r in district.ratings] == ["部门1"]
    assert [r.department for r in first.ratings] == ["部门1"]  # rated by four of its communities
    assert streets[1].ratings == ()  # one rater: no average shown
    assert [d.scope for d in of_one] == [*(c.scope for c in communities[12:]), "street:3", "street:4"]
    assert sum(s.assignments for s in streets) == district.assignments


async def test_the_monthly_run_draws_only_the_charts_a_group_robot_receives(tmp_path: Path, sqlite_url: str) -> None:
    """A province's 10,000 community digests on the inbox cost no drawing; a robot's group still gets its picture."""
    from intake.org import CommunityRow, apply_org_rows
    from intake.reports.monthly import send_monthly_digests
    from intake.store.models import OUTBOX
    from tests.console_support import seed_task
    from tests.fake_wechat_api import notify_settings, running_services

    when = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    drawn: dict[str, set[str]] = {}
    for heads in ("inbox", "wecom_robot"):
        settings = notify_settings(sqlite_url, tmp_path / heads)
        settings = settings.model_copy(update={"notify": settings.notify.model_copy(update={"heads": heads})})
        async with running_services(settings) as services:
            if heads == "inbox":
                async with services.engine.begin() as conn:
                    await apply_org_rows(conn, rows=[CommunityRow("示范区", "甲街道", "幸福社区"),
                                                     CommunityRow("示范区", "甲街道", "和平社区")],
                                         source="test", author="test", now=when)
                await seed_task(services.engine, communities=("幸福社区",), received_at=when)
            await send_monthly_digests(services, now=when, month="2026-11", only_if_due=False)
            async with services.engine.connect() as conn:
                pictures = (await conn.execute(sa.select(OUTBOX.c.recipient).where(OUTBOX.c.kind == "digest_chart")))
                assert [str(r) for r in pictures.scalars()] == ([] if heads == "inbox" else ["幸福社区"])
                digests = (await conn.execute(sa.select(OUTBOX.c.recipient).where(OUTBOX.c.kind == "digest")))
                assert "幸福社区" in set(digests.scalars())  # the digest itself goes either way
        drawn[heads] = {p.name for p in (tmp_path / heads).rglob("*.png")}
    assert drawn == {"inbox": set(), "wecom_robot": {"2026-11-幸福社区.png"}}
