"""The intake log and the review queue read a page by a cursor, count up to a cap, and search an index:
the same pages and the same matches on SQLite (FTS5) and PostgreSQL (GIN), on both databases."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from intake.reports import paging
from intake.store.models import TASK_TARGETS as TARGETS
from intake.store.models import TASKS
from tests.console_support import TZ, login, scalar, seed_task

CODE = re.compile(r"/tasks/(R-\d{8}-\d{4})\"")
LINK = re.compile(r'href="([^"]*)" rel="(prev|next)"')


def codes_in(html: str) -> list[str]:
    return list(dict.fromkeys(CODE.findall(html)))


def links(html: str) -> dict[str, str]:
    return {rel: href.replace("&amp;", "&") for href, rel in LINK.findall(html)}


async def seed_log(engine, count: int, *, status: str = "accepted", start: dt.datetime | None = None) -> list[str]:
    """`count` tasks a minute apart (two of them at the same second: the id breaks the tie)."""
    start = start or dt.datetime(2025, 11, 1, 8, 0, tzinfo=TZ)
    return [await seed_task(engine, raw_text=f"第{i}号通知", status=status, item=None,
                            received_at=start + dt.timedelta(minutes=i if i != 7 else 6))
            for i in range(count)]


async def test_log_pages_follow_a_cursor_newest_first_and_back(console, engine):
    stored = await seed_log(engine, 65)
    newest_first = stored[::-1]  # (two share a second: the later id comes first)
    await login(console)
    first = await (await console.get("/admin/tasks")).text()
    assert codes_in(first) == newest_first[:30]
    assert "共 65 条" in first and "第 1 页" in first and "prev" not in links(first)
    second = await (await console.get(links(first)["next"])).text()
    assert codes_in(second) == newest_first[30:60] and "第 2 页" in second
    third = await (await console.get(links(second)["next"])).text()
    assert codes_in(third) == newest_first[60:] and "next" not in links(third)
    back = await (await console.get(links(third)["prev"])).text()
    assert codes_in(back) == newest_first[30:60]
    top = await (await console.get(links(back)["prev"])).text()
    assert codes_in(top) == newest_first[:30] and "prev" not in links(top)


async def test_a_notice_stored_meanwhile_never_shifts_the_next_page(console, engine):
    stored = await seed_log(engine, 40)
    await login(console)
    first = await (await console.get("/admin/tasks")).text()
    late = await seed_task(engine, raw_text="新到的通知", received_at=dt.datetime(2025, 11, 30, tzinfo=TZ))
    second = await (await console.get(links(first)["next"])).text()
    assert codes_in(second) == stored[:10][::-1] and late not in second


async def test_log_total_is_counted_up_to_the_cap(console, engine, monkeypatch):
    await seed_log(engine, 12)
    monkeypatch.setattr(paging, "COUNT_CAP", 10)
    await login(console)
    assert "共 10+ 条" in await (await console.get("/admin/tasks")).text()
    monkeypatch.setattr(paging, "COUNT_CAP", 12)
    assert "共 12 条" in await (await console.get("/admin/tasks")).text()


async def test_a_malformed_cursor_shows_the_first_page(console, engine):
    stored = await seed_log(engine, 3)
    await login(console)
    resp = await console.get("/admin/tasks", params={"after": "x.y"})
    assert resp.status == 200 and codes_in(await resp.text()) == stored[::-1]


async def test_review_queue_is_a_page_oldest_first_with_the_number_waiting(console, engine):
    waiting = await seed_log(engine, 55, status="pending_review")
    await seed_log(engine, 3, start=dt.datetime(2025, 10, 1, tzinfo=TZ))  # accepted: not in the queue
    await login(console)
    first = await (await console.get("/admin/review")).text()
    assert codes_in(first) == waiting[:50]
    assert "55 条待审核" in first
    rest = await (await console.get(links(first)["next"])).text()
    assert codes_in(rest) == waiting[50:] and "next" not in links(rest)


async def test_the_number_waiting_is_counted_up_to_the_cap_on_review_and_dashboard(console, engine, monkeypatch):
    await seed_log(engine, 12, status="pending_review")
    monkeypatch.setattr(paging, "COUNT_CAP", 10)
    await login(console)
    assert "10+ 条待审核" in await (await console.get("/admin/review")).text()
    assert "<b>10+</b><span>待准入审核</span>" in await (await console.get("/admin/?month=2025-01")).text()
    monkeypatch.setattr(paging, "COUNT_CAP", 12)
    assert "12 条待审核" in await (await console.get("/admin/review")).text()
    assert "<b>12</b><span>待准入审核</span>" in await (await console.get("/admin/?month=2025-02")).text()


# --- search --------------------------------------------------------------------------------------

NOTICES = {
    "elders": "【区民政局】请各社区于12月5日前报送高龄老人花名册,共40人。",
    "trees": "【区林业局】请开展古树名木保护调查,附件为PDF。",
    "fire": "【区应急局】请组织消防安全检查,并于周五前上报检查台账。",
    "census": "请填写人口普查入户登记表1000份",
}
QUERIES = {
    "老人": {"elders"},
    "花名册": {"elders"},
    "高龄老人": {"elders"},
    "古树名木": {"trees"},
    "pdf": {"trees"},
    "PDF": {"trees"},
    "检查": {"fire"},
    "消防 台账": {"fire"},
    "消防 花名册": set(),
    "社区": {"elders"},
    "1000": {"census"},
    "100": set(),
    "普查": {"census"},
    "名单": set(),
}


async def test_search_finds_words_by_the_index_the_same_on_both_databases(console, engine):
    codes = {name: await seed_task(engine, raw_text=text) for name, text in NOTICES.items()}
    await login(console)
    for query, expected in QUERIES.items():
        text = await (await console.get("/admin/tasks", params={"q": query})).text()
        found = {name for name, code in codes.items() if code in text}
        assert found == expected, query
    text = await (await console.get("/admin/tasks", params={"q": codes["fire"][:11].lower()})).text()
    assert codes["fire"] in text  # a code's beginning, any case
    text = await (await console.get("/admin/tasks", params={"q": f"{codes['fire']} 老人"})).text()
    assert codes_in(text) == []  # a code and a word: both must match


async def test_search_index_follows_a_task_whose_terms_change_and_one_deleted(console, engine):
    code = await seed_task(engine, raw_text=NOTICES["trees"])
    other = await seed_task(engine, raw_text=NOTICES["trees"])
    await login(console)
    async with engine.begin() as conn:
        await conn.execute(sa.update(TASKS).where(TASKS.c.code == code).values(search_terms="消防 检查"))
        other_id = (await conn.execute(sa.select(TASKS.c.id).where(TASKS.c.code == other))).scalar_one()
        await conn.execute(sa.delete(TARGETS).where(TARGETS.c.task_id == other_id))
        await conn.execute(sa.delete(TASKS).where(TASKS.c.id == other_id))
    assert codes_in(await (await console.get("/admin/tasks", params={"q": "古树"})).text()) == []
    assert codes_in(await (await console.get("/admin/tasks", params={"q": "消防"})).text()) == [code]
    assert await scalar(engine, sa.select(sa.func.count()).select_from(TASKS)) == 1
