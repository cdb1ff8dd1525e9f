"""A year of notices through POST /wechat, then the yearly burden report checked against the log.

The year: five departments' clerks send their notices each month (a monthly form from 民政局 with a
platform, a quarterly form from 卫健委 whose fields mostly repeat it, 民政局's data entry into a
second platform, inspections, meetings, a levy that is refused, certificates against the list and
unlisted campaigns), all received in 2026 local time. The report's figures are compared with
counts written here in plain SQL over the same database; the docx is re-read with python-docx and
the PDF's first page is rendered with PDFium.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
import sqlalchemy as sa
from docx import Document

from bot.keys import SERVICES
from intake.reports.burden import build_burden_report
from intake.reports.burden_model import BurdenReport
from intake.reports.burden_render import render_markdown, write_report
from intake.reports.rollups import refresh_rollups
from intake.store.models import MONTH_ROLLUPS, Role
from tests.bot.test_intake_chat import Chat, bound
from tests.conftest import make_settings
from tests.peer import MovingClock, WeChatPeer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SH = dt.timezone(dt.timedelta(hours=8))
YEAR = 2026

MONTHLY_FORM = ("【区民政局】请各社区于{m}月20日前填写《高龄老人走访慰问登记表》,栏目包括姓名、身份证号码、性别、年龄、"
                "住址、联系电话、慰问金额,并登录全国养老服务信息系统录入。")
QUARTERLY_FORM = ("【区卫健委】请各社区于{m}月22日前填报《65岁以上老年人健康登记表》,栏目包括姓名、身份证号、性别、出生日期、"
                  "家庭住址、手机号码、慢病情况,同时在健康浙江APP上传。")
SECOND_PLATFORM = "【区民政局】请各社区于{m}月25日前将辖区高龄老人信息录入智慧养老平台,核对高龄津贴发放名单。"
INSPECTION = "【区城管局】请各社区于{m}月15日前做好市容环境卫生检查迎检准备,整理相关台账资料。"
MEETING = "街道办事处:请各社区于{m}月18日前召开居民代表会议,民主协商停车管理方案,会议记录报街道备案。"
UNLISTED = "环保局:请各社区在{m}月28日前开展生态环境保护主题宣传,发放宣传资料300份。"
LEVY = "【区委宣传部】请各社区完成党报党刊征订任务,每个社区订阅10份,{m}月20日前报订阅名单。"
CERTIFICATE = "【区司法局】请各社区{m}月19日前为辖区居民出具无犯罪记录证明并盖章。"

# (template, months, clerk's department)
PLAN = (
    (MONTHLY_FORM, range(1, 13), "民政局"),
    (QUARTERLY_FORM, (3, 6, 9, 12), "卫健委"),
    (SECOND_PLATFORM, (4, 8), "民政局"),
    (INSPECTION, (2, 5, 8, 11), "城管局"),
    (MEETING, range(1, 13, 2), "街道办"),
    (UNLISTED, (6, 7), "生态环境局"),
    (LEVY, (1,), "宣传部"),
    (CERTIFICATE, (3, 9, 10), "司法局"),
)


async def build_year(client: Any, peer: Any) -> int:
    """Send the year's notices; every one on the 3rd of its month at 09:30 local. Returns how many."""
    clerks: dict[str, Chat] = {}
    sent = 0
    for template, months, department in PLAN:
        if department not in clerks:
            clerks[department] = await bound(client, peer, f"o-{len(clerks)}", Role.clerk, department)
        for month in months:
            at = dt.datetime(YEAR, month, 3, 9, 30, tzinfo=SH)
            reply = await clerks[department].say(template.format(m=month), at=at)
            assert reply.content.startswith(("已登记", "不予派发")), reply.content
            sent += 1
    # one notice in the next year, which the report must leave out
    await clerks["民政局"].say(MONTHLY_FORM.format(m=1), at=dt.datetime(YEAR + 1, 1, 3, 9, 30, tzinfo=SH))
    return sent


async def one(client: Any, sql: str, **bounds: Any) -> Any:
    """One value of plain SQL over the log (``:start``/``:end`` the year unless given)."""
    params = {"start": dt.datetime(YEAR, 1, 1, tzinfo=SH), "end": dt.datetime(YEAR + 1, 1, 1, tzinfo=SH), **bounds}
    async with client.server.app[SERVICES].engine.connect() as conn:
        return (await conn.execute(sa.text(sql), params)).scalar()


IN_YEAR = "t.received_at >= :start AND t.received_at < :end"


# every month of the year closed: the district's report reads the months the sweep kept
LATER = dt.datetime(YEAR + 1, 2, 10, 9, 0, tzinfo=SH)


async def build(client: Any, scope: str | None = None) -> BurdenReport:
    services = client.server.app[SERVICES]
    async with services.engine.connect() as conn:
        return await build_burden_report(conn, year=YEAR, scope=scope, settings=services.settings, now=LATER,
                                         item_texts={c: i.text for c, i in services.rules.current.items.items()})


@pytest.fixture
async def env(aiohttp_client: Any, db_url: str) -> tuple[Any, WeChatPeer, Any]:
    """The real app on SQLite and on PostgreSQL."""
    from bot.app import create_app

    settings = make_settings(db_url)
    app = create_app(settings, background=False, clock=MovingClock(dt.datetime(YEAR, 1, 1, tzinfo=SH).timestamp()))
    return await aiohttp_client(app), WeChatPeer(settings), settings


@pytest.fixture
async def year(env: Any) -> tuple[Any, BurdenReport, int]:
    client, peer, _ = env
    sent = await build_year(client, peer)
    return client, await build(client), sent


async def test_basic_figures_match_the_log(year: Any) -> None:
    client, report, sent = year
    assert report.tasks == sent == await one(client, f"SELECT count(*) FROM tasks t WHERE {IN_YEAR}")
    assert report.assignments == await one(
        client, f"SELECT count(*) FROM task_targets tt JOIN tasks t ON t.id = tt.task_id WHERE {IN_YEAR}")
    for key in ("inspection", "ledger", "report", "certificate", "meeting"):
        assert report.count(key).total == await one(
            client, f"SELECT count(*) FROM task_targets tt JOIN tasks t ON t.id = tt.task_id "
                    f"WHERE {IN_YEAR} AND t.kind = '{key}'"), key
    # 事项: department × list item; the unlisted campaign is its department × its kind
    listed = await one(client, f"SELECT count(DISTINCT t.department || t.item) FROM tasks t "
                               f"WHERE {IN_YEAR} AND t.item IS NOT NULL")
    unlisted = await one(client, f"SELECT count(DISTINCT t.department || t.kind) FROM tasks t "
                                 f"WHERE {IN_YEAR} AND t.item IS NULL")
    assert report.items == listed + unlisted
    by_department = {d.department: d for d in report.departments}
    assert by_department["民政局"].tasks == 12 + 2 and by_department["民政局"].items == 1  # all of it is A2
    assert report.communities == 5 and report.count("tasks").per_community == report.assignments / 5


async def test_forms_and_platforms_match_the_catalogue(year: Any) -> None:
    client, report, _ = year
    forms = {f.name: f for f in report.forms}
    monthly = forms["高龄老人走访慰问登记表"]
    assert (monthly.sends, monthly.communities, monthly.submissions) == (12, 5, 60)
    assert report.form_submissions == await one(
        client, f"SELECT count(*) FROM form_sends fs JOIN task_targets tt ON tt.task_id = fs.task_id "
                f"JOIN tasks t ON t.id = fs.task_id WHERE {IN_YEAR}")
    repeat = next(r for r in report.form_repeats if r.form == "65岁以上老年人健康登记表")
    assert (repeat.earlier, repeat.earlier_department, repeat.shared, repeat.total) == (
        "高龄老人走访慰问登记表", "民政局", 5, 7)
    platforms = report.count("platform")
    assert platforms.total == await one(client, "SELECT count(*) FROM platforms") == 3
    every = {p.community: p for p in report.platforms}
    assert set(every) == {"幸福社区", "和平社区", "光明社区", "东风社区", "建设社区"}
    # 民政局's A2 data went into two platforms in every community
    data, names = every["幸福社区"].repeated_data[0]
    assert data.startswith("A2") and names == ("全国养老服务信息系统", "智慧养老平台")


async def test_problems_match_the_log(year: Any) -> None:
    client, report, _ = year
    assert report.refused == await one(client, f"SELECT count(*) FROM tasks t WHERE {IN_YEAR} AND status='refused'")
    assert dict(report.refused_by_department) == {"宣传部": 1, "司法局": 3}
    assert report.unlisted == 2 and dict(report.unlisted_by_department) == {"生态环境局": 2}
    assert report.unfunded == await one(
        client, f"SELECT count(*) FROM tasks t WHERE {IN_YEAR} AND listing='assist' AND NOT funded "
                f"AND status NOT IN ('refused', 'withdrawn')")
    assert report.duplicates == await one(
        client, f"SELECT count(*) FROM tasks t WHERE {IN_YEAR} AND duplicate_of IS NOT NULL")
    certificate = report.certificates[0]
    assert (certificate.name, certificate.decision, certificate.requests) == ("无犯罪记录证明", "refuse", 3)
    quoted = {q.code for q in report.count("inspection").quotes}
    assert quoted and quoted <= set(await codes(client, "inspection"))


async def test_kept_months_give_the_live_report_and_a_correction_brings_its_month_back(year: Any) -> None:
    client, live, _ = year
    services = client.server.app[SERVICES]
    assert await refresh_rollups(services, now=LATER, limit=13) == 13  # the sweep keeps figures and report rows
    assert await one(client, "SELECT count(*) FROM month_rollups WHERE scope = 'burden' AND month LIKE '2026-%'") == 12
    assert await build(client) == live  # read back from month_rollups
    # kept rows are really what is read: May's district figures without tasks, March's certificates emptied
    may = {"start": dt.datetime(YEAR, 5, 1, tzinfo=SH), "end": dt.datetime(YEAR, 6, 1, tzinfo=SH)}
    in_may = await one(client, f"SELECT count(*) FROM tasks t WHERE {IN_YEAR}", **may)
    async with services.engine.begin() as conn:
        content = (await conn.execute(sa.select(MONTH_ROLLUPS.c.content).where(
            MONTH_ROLLUPS.c.month == "2026-05", MONTH_ROLLUPS.c.scope == "district"))).scalar_one()
        await conn.execute(sa.update(MONTH_ROLLUPS).where(
            MONTH_ROLLUPS.c.month == "2026-05", MONTH_ROLLUPS.c.scope == "district").values(
            content={**content, "total": {**content["total"], "tasks": 0}}))
        burden = (await conn.execute(sa.select(MONTH_ROLLUPS.c.content).where(
            MONTH_ROLLUPS.c.month == "2026-03", MONTH_ROLLUPS.c.scope == "burden"))).scalar_one()
        await conn.execute(sa.update(MONTH_ROLLUPS).where(
            MONTH_ROLLUPS.c.month == "2026-03", MONTH_ROLLUPS.c.scope == "burden").values(content={**burden, "Q3": []}))
    tampered = await build(client)
    assert in_may and tampered.tasks == live.tasks - in_may
    assert tampered.certificates[0].requests == live.certificates[0].requests - 1
    # a correction of a May notice (inspection → meeting): the trigger drops May's rollup, May is read live
    task_id = await one(client, f"SELECT min(id) FROM tasks t WHERE {IN_YEAR} AND kind = 'inspection'", **may)
    async with services.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE tasks SET kind = 'meeting' WHERE id = :id"), {"id": task_id})
    assert await one(client, "SELECT count(*) FROM rollup_months WHERE month = '2026-05'") == 0
    corrected = await build(client)
    assert corrected.tasks == live.tasks
    assert corrected.count("inspection").total == live.count("inspection").total - 5
    assert corrected.count("meeting").total == live.count("meeting").total + 5


async def codes(client: Any, kind: str) -> list[str]:
    async with client.server.app[SERVICES].engine.connect() as conn:
        return list((await conn.execute(sa.text("SELECT code FROM tasks WHERE kind = :k"), {"k": kind})).scalars())


async def test_recommendations_come_from_the_figures(year: Any) -> None:
    _, report, _ = year
    text = "\n".join(f"{r.topic}:{r.text}" for r in report.recommendations)
    assert "生态环境局(2)" in text and "准入" in text  # the unlisted campaigns' department
    assert "《65岁以上老年人健康登记表》" in text and "并入《高龄老人走访慰问登记表》" in text
    assert "无犯罪记录证明" in text and "3次" in text
    assert "A2" in text and "民政局" in text and "费随事转" in text  # never funded all year
    assert "全国养老服务信息系统、智慧养老平台" in text
    md = render_markdown(report)
    parts = [md.index(h) for h in ("一、基本情况", "二、存在问题", "三、对策建议", "附:数据来源")]
    assert parts == sorted(parts)


async def test_report_scoped_to_one_community_counts_only_its_notices(year: Any) -> None:
    client, district, _ = year
    report = await build(client, "community:幸福社区")
    assert report.communities == 1
    assert report.assignments == await one(
        client, f"SELECT count(*) FROM task_targets tt JOIN tasks t ON t.id = tt.task_id JOIN communities c "
                f"ON c.id = tt.community_id WHERE {IN_YEAR} AND c.name = '幸福社区'")
    assert report.count("platform").total == 3 and report.tasks == district.tasks  # every notice went to all


async def test_docx_reads_back_and_pdf_renders(year: Any, tmp_path: Path) -> None:
    _, report, _ = year
    docx_path = write_report(report, fmt="docx", path=tmp_path / "report.docx")
    document = Document(str(docx_path))
    headings = [p.text for p in document.paragraphs if p.style is not None and p.style.name.startswith("Heading")]
    assert {"一、基本情况", "二、存在问题", "三、对策建议"} <= set(headings)
    departments = document.tables[0]
    assert [c.text for c in departments.rows[0].cells][:2] == ["部门", "事项"]
    first = departments.rows[1].cells
    top = report.departments[0]
    assert (first[0].text, first[1].text, first[3].text) == (top.department, str(top.items), str(top.tasks))
    assert len(document.inline_shapes) == 1  # the chart
    pdf_path = write_report(report, fmt="pdf", path=tmp_path / "report.pdf")
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        assert len(pdf) >= 2
        text = pdf[0].get_textpage().get_text_range()
        assert "基本情况" in text and report.title in text
        image = pdf[0].render(scale=1).to_pil()
        assert image.size[0] > 500 and image.convert("L").getextrema()[0] < 100  # something dark was drawn
    finally:
        pdf.close()
