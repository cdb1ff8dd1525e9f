"""The monthly digest over a seeded month whose figures are worked out by hand below."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from PIL import Image
from sqlmodel import SQLModel

from bot.cli import build_parser, cmd_digest
from intake.reports.chart import CHART_SIZE, find_cjk_font, render_chart_png
from intake.reports.digest import build_digest, build_monthly_digests
from intake.reports.figures import estimate_hours
from intake.reports.monthly import send_monthly_digests
from intake.reports.render import render_chat_text, render_markdown, to_json, write_xlsx
from intake.store.db import create_engine
from tests.conftest import ROOT, make_settings
from tests.fake_wechat_api import add_task, at, insert, notify_settings, running_services

D = dt.date
NOW = at("2026-12-10 12:00")  # November is over: nothing of it is still 未到期


async def seed(engine) -> dict[str, int]:
    xf = await insert(engine, "communities", name="幸福社区", staff=9)
    hp = await insert(engine, "communities", name="和平社区", staff=8)
    mz = await insert(engine, "departments", name="民政局")
    await insert(engine, "departments", name="卫健委")
    # T1 民政局 survey, 400 households, assist without funding, both communities, due 20 Nov:
    #    幸福 done 20 Nov 23:00 local (on time), 和平 done 21 Nov 00:30 local (late; still 20 Nov in UTC)
    t1, (t1_xf, t1_hp) = await add_task(engine, received_at=at("2026-11-02 10:00"), community_ids=[xf, hp],
                                        due=D(2026, 11, 20), kind="survey", quantity_value=400, quantity_unit="户",
                                        code="R-20261102-0001")
    targets = SQLModel.metadata.tables["task_targets"]
    async with engine.begin() as conn:
        for target, done in ((t1_xf, at("2026-11-20 23:00")), (t1_hp, at("2026-11-21 00:30"))):
            await conn.execute(sa.update(targets).where(targets.c.id == target).values(status="done", done_at=done))
    # T2 卫健委 report, 3 forms, assist with funding, short notice, 幸福, due 25 Nov, still open (overdue)
    await add_task(engine, received_at=at("2026-11-24 09:00"), community_ids=[xf], due=D(2026, 11, 25),
                   department="卫健委", quantity_value=3, quantity_unit="份", funded=True, short_notice=True)
    # T3 城管局 adhoc, negative list, refused
    await add_task(engine, received_at=at("2026-11-10 10:00"), community_ids=[xf], department="城管局", kind="adhoc",
                   listing="negative", status="refused", target_status="refused")
    # T4 民政局 service, duty, both, due in December, a duplicate of T1 and 重复采集
    await add_task(engine, received_at=at("2026-11-15 10:00"), community_ids=[xf, hp], due=D(2026, 12, 5),
                   kind="service", nature="service", listing="duty", duplicate_of=t1, repeat_collection=True)
    # T5 统计局 report, unlisted, pending review, 和平
    await add_task(engine, received_at=at("2026-11-16 10:00"), community_ids=[hp], department="统计局",
                   listing="unlisted", status="pending_review")
    # T6 民政局 meeting, 2 sessions, received 30 Nov 23:30 local (in November), 幸福
    await add_task(engine, received_at=at("2026-11-30 23:30"), community_ids=[xf], kind="meeting", listing="duty",
                   quantity_value=2, quantity_unit="场")
    # outside November: 1 Dec 00:10 local (still 30 Nov in UTC), and one October task for the trend
    await add_task(engine, received_at=at("2026-12-01 00:10"), community_ids=[xf])
    await add_task(engine, received_at=at("2026-10-12 10:00"), community_ids=[xf])
    await insert(engine, "ratings", community_id=xf, department_id=mz, month="2026-11", score=4)
    await insert(engine, "ratings", community_id=hp, department_id=mz, month="2026-11", score=2)
    return {"xf": xf, "hp": hp}


@pytest.fixture
async def services(tmp_path, db_url):
    async with running_services(notify_settings(db_url, tmp_path)) as services:
        await seed(services.engine)
        yield services


async def test_district_digest_figures(services) -> None:
    async with services.engine.connect() as conn:
        d = await build_digest(conn, month="2026-11", community=None, settings=services.settings, now=NOW)
    assert (d.tasks, d.assignments) == (6, 8)
    assert (d.administrative, d.service, d.administrative_share) == (5, 1, 0.8333)
    assert dict(d.listing) == {"duty": 2, "assist": 2, "negative": 1, "unlisted": 1}
    assert (d.refused, d.pending_review, d.unfunded_assist, d.unfunded_codes) == (1, 1, 1, ("R-20261102-0001",))
    assert (d.short_notice, d.duplicates, d.repeat_collection) == (1, 1, 1)
    assert (d.due, d.on_time, d.late, d.overdue, d.on_time_rate) == (3, 1, 1, 1, 0.3333)
    # hours: survey 400户 × 0.25 × 2 communities + report 3份 × 0.5 (T2) + service 4 × 2 + report 2 (T5, no
    # quantity: hours_per_kind) + meeting 2场 × 2.5; refused T3 is 0
    assert d.estimated_hours == 200 + 1.5 + 8 + 2 + 5 == 216.5
    assert (d.staff, d.capacity_hours) == (17, 2720.0)
    assert [(k.kind, k.tasks, k.hours, k.quantities) for k in d.by_kind] == [
        ("report", 2, 3.5, (("份", 3),)), ("adhoc", 1, 0.0, ()), ("meeting", 1, 5.0, (("场", 2),)),
        ("service", 1, 8.0, ()), ("survey", 1, 200.0, (("户", 400),)),
    ]
    assert [(r.department, r.tasks, r.administrative, r.refused, r.hours) for r in d.by_department] == [
        ("民政局", 3, 2, 0, 213.0), ("卫健委", 1, 1, 0, 1.5), ("城管局", 1, 1, 1, 0.0), ("统计局", 1, 1, 0, 2.0),
    ]
    assert [r.department for r in d.top_departments] == ["民政局", "统计局", "卫健委", "城管局"]
    assert d.ratings == ()  # two raters: too few to show an average without exposing them
    assert (d.trend.month, d.trend.tasks, d.trend.tasks_change, d.trend.hours, d.trend.hours_change) == (
        "2026-10", 1, 5, 2.0, 214.5)
    league = {r.department: r for r in d.league}
    assert (league["民政局"].unfunded, league["民政局"].duplicates, league["民政局"].rating) == (1, 1, None)
    assert (league["城管局"].refused, league["城管局"].refused_share) == (1, 1.0)
    assert d.heatmap is not None
    assert d.heatmap.communities == ("幸福社区", "和平社区")
    assert d.heatmap.departments == ("民政局", "卫健委", "城管局", "统计局")
    assert d.heatmap.cells == ((3, 1, 1, 0), (2, 0, 0, 1))


async def test_community_digest_figures(services) -> None:
    async with services.engine.connect() as conn:
        d = await build_digest(conn, month="2026-11", community="幸福社区", settings=services.settings, now=NOW)
    assert (d.tasks, d.assignments, d.administrative, d.service) == (5, 5, 4, 1)
    assert dict(d.listing) == {"duty": 2, "assist": 2, "negative": 1, "unlisted": 0}
    assert (d.due, d.on_time, d.late, d.overdue) == (2, 1, 0, 1)
    assert (d.estimated_hours, d.capacity_hours) == (100 + 1.5 + 4 + 5, 1440.0)
    assert d.ratings == ()  # a community's own score is never shown as such
    assert d.league == () and d.heatmap is None
    assert d.title == "幸福社区2026年11月减负月报"


async def test_renderings(services, tmp_path: Path) -> None:
    async with services.engine.connect() as conn:
        d = await build_digest(conn, month="2026-11", community=None, settings=services.settings, now=NOW)
    md = render_markdown(d)
    assert md.startswith("# 示范街道2026年11月减负月报") and "| 民政局 | 3 | 2 | 0 | 213 |" in md
    assert "费未随事转 1 件" in md and "## 社区 × 部门" in md and "| 幸福社区 | 3 | 1 | 1 | 0 |" in md
    link = "http://127.0.0.1:8080/admin/digests/2026-11/district"
    for limit in (2000, 300, 120):
        text = render_chat_text(d, limit_bytes=limit, link=link)
        assert len(text.encode("utf-8")) <= limit and text.endswith(link)
    data = to_json(d)
    assert json.loads(json.dumps(data))["listing"]["negative"] == 1
    assert data["by_kind"][-1]["quantities"] == {"户": 400} and data["administrative_share"] == 0.8333
    wb = load_workbook(write_xlsx(d, tmp_path / "d.xlsx"))
    assert wb.sheetnames == ["概览", "按类型", "按部门", "评价", "社区报送与窗口工作", "部门排行", "社区×部门"]
    assert [c.value for c in wb["社区×部门"][2]] == ["幸福社区", 3, 1, 1, 0]
    assert wb["概览"]["B4"].value == 6


async def test_chart_png_opens_with_the_expected_size(services, tmp_path: Path) -> None:
    assert "CJK" in find_cjk_font() or "wqy" in find_cjk_font().lower()
    async with services.engine.connect() as conn:
        d = await build_digest(conn, month="2026-11", community=None, settings=services.settings, now=NOW)
    path = render_chart_png(d, tmp_path / "chart.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == CHART_SIZE


async def test_monthly_digests_are_built_once_after_the_digest_time(services) -> None:
    assert await send_monthly_digests(services, now=at("2026-12-01 07:59")) == 0
    assert await send_monthly_digests(services, now=at("2026-12-01 08:07")) == 3
    assert await send_monthly_digests(services, now=at("2026-12-01 08:08")) == 0
    async with services.engine.connect() as conn:
        scopes = sorted((await conn.execute(sa.text("SELECT scope FROM digests WHERE month='2026-11'"))).scalars())
        outbox = (await conn.execute(sa.text(
            "SELECT channel, recipient, kind, body FROM outbox ORDER BY id"))).all()
    assert scopes == ["district", "和平社区", "幸福社区"]
    assert [(o.channel, o.recipient, o.kind) for o in outbox] == [
        ("inbox", "幸福社区", "digest"), ("inbox", "和平社区", "digest"), ("inbox", "admins", "digest")]
    assert outbox[0].body.startswith("【幸福社区2026年11月减负月报】") and "/admin/digests/2026-11/" in outbox[0].body
    # the admins' inbox opens the page, which draws the chart when asked: the monthly run draws none
    assert not (services.settings.base_dir / "data/digests/2026-11-district.png").exists()


async def test_cli_prints_markdown_and_json(services, tmp_path: Path, capsys) -> None:
    config = tmp_path / "cli.toml"
    source = (Path(__file__).resolve().parents[2] / "config.toml").read_text(encoding="utf-8")
    shipped = 'url = "sqlite:///data/jianfu.db"'
    assert shipped in source
    config.write_text(source.replace(shipped, f'url = "{services.settings.database_url}"'), encoding="utf-8")
    parser = build_parser()
    args = parser.parse_args(["digest", "--config", str(config), "--month", "2026-11", "--community", "幸福社区"])
    assert await asyncio.to_thread(cmd_digest, args) == 0
    assert capsys.readouterr().out.startswith("# 幸福社区2026年11月减负月报")
    args = parser.parse_args(["digest", "--config", str(config), "--month", "2026-11", "--format", "json"])
    assert await asyncio.to_thread(cmd_digest, args) == 0
    assert json.loads(capsys.readouterr().out)["tasks"] == 6
    out = tmp_path / "d.xlsx"
    args = parser.parse_args(["digest", "--config", str(config), "--month", "2026-11", "--format", "xlsx",
                              "--output", str(out)])
    assert await asyncio.to_thread(cmd_digest, args) == 0 and out.exists()
    args = parser.parse_args(["digest", "--config", str(config), "--month", "2026-13"])
    assert await asyncio.to_thread(cmd_digest, args) == 2
    args = parser.parse_args(["digest", "--config", str(config), "--month", "2026-11", "--community", "无此社区"])
    assert await asyncio.to_thread(cmd_digest, args) == 1


async def test_the_batched_monthly_run_matches_digests_built_one_by_one(services) -> None:
    async with services.engine.connect() as conn:
        district, *communities = await build_monthly_digests(conn, month="2026-11", settings=services.settings, now=NOW)
        assert district == await build_digest(conn, month="2026-11", community=None, settings=services.settings, now=NOW)
        assert [c.scope for c in communities] == ["幸福社区", "和平社区"]
        for digest in communities:
            alone = await build_digest(conn, month="2026-11", community=digest.scope, settings=services.settings, now=NOW)
            assert digest == alone
    hp = communities[1]
    assert (hp.tasks, hp.unfunded_codes, hp.due, hp.late) == (3, ("R-20261102-0001",), 1, 1)
    assert hp.ratings == ()


async def _hours_task_by_task(conn: Any, *, month: str, settings: Any) -> float:
    """The month's estimated hours summed in Python, one assignment at a time (the SQL does it in one query)."""
    tasks, targets = SQLModel.metadata.tables["tasks"], SQLModel.metadata.tables["task_targets"]
    start, end = at(f"{month}-01 00:00"), at("2026-07-01 00:00")
    rows = await conn.execute(
        sa.select(tasks.c.kind, tasks.c.quantity_value, tasks.c.quantity_unit, tasks.c.status)
        .join(targets, targets.c.task_id == tasks.c.id)
        .where(tasks.c.received_at >= start, tasks.c.received_at < end))
    return round(sum(
        0.0 if r.status in ("refused", "withdrawn")
        else estimate_hours(settings.schedule, kind=r.kind, quantity=r.quantity_value, unit=r.quantity_unit)
        for r in rows), 1)


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_digest", ROOT / "bench" / "bench_digest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_benchmark_year_gives_the_same_digests_on_both_databases(db_url) -> None:
    settings = make_settings(db_url)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            for statement in _bench().seed_statements(conn.dialect.name, tasks=6000, communities=7):
                await conn.exec_driver_sql(statement)
        async with engine.connect() as conn:
            district, *communities = await build_monthly_digests(conn, month="2026-06", settings=settings, now=NOW)
            hours_by_hand = await _hours_task_by_task(conn, month="2026-06", settings=settings)
            for digest in communities[:3]:
                assert digest == await build_digest(conn, month="2026-06", community=digest.scope, settings=settings, now=NOW)
    finally:
        await engine.dispose()
    assert len(communities) == 7
    # the same numbers on SQLite and PostgreSQL (the seed is deterministic SQL)
    d = district
    assert (d.tasks, d.assignments, d.unfunded_assist, d.trend.tasks) == (493, 1000, 168, 509)
    assert d.estimated_hours == hours_by_hand
    assert (d.due, d.on_time, d.late, d.overdue) == (661, 166, 232, 263)
    # every assignment belongs to exactly one community
    assert d.assignments == sum(c.tasks for c in communities)
    # each community's hours are rounded to 0.1 on their own: their sum may stray from the district's by 0.05 each
    assert abs(d.estimated_hours - sum(c.estimated_hours for c in communities)) <= 0.05 * len(communities) + 1e-9
    assert (d.due, d.on_time, d.late, d.overdue) == tuple(
        sum(getattr(c, f) for c in communities) for f in ("due", "on_time", "late", "overdue"))
    assert d.heatmap is not None and sum(map(sum, d.heatmap.cells)) == d.assignments
