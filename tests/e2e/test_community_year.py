"""The community side's month (``run_month``) run twelve times, then the yearly burden report checked against the log.

Each month, through POST /wechat: three departments post (民政局's 入户核查, 人社局's 摸排, 宣传部's levy, which
is refused), 应急管理局 reaches 幸福社区 only through a work group and the head reports its notices, the head
pastes one 民政局 notice again (linked, not doubled) and logs certificates (3 of them against the certificate
list), an inspection and a meeting at the counter. The report's three parts are compared with what the test
recorded and with plain SQL over the same database; the docx is re-read with python-docx and the PDF's first
page rendered to an image.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
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
from tests.e2e.test_community_month import SH, MonthRecord, env, run_month  # noqa: F401 (env: the fixture)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

YEAR = 2026
LATER = dt.datetime(YEAR + 1, 2, 10, 9, 0, tzinfo=SH)  # every month of the year closed
IN_YEAR = "t.received_at >= :start AND t.received_at < :end"
THEMES = (  # what each month's notices open with (the same text within 30 days would be a resend)
    "结合元旦春节两节期间走访慰问工作要求,", "根据春季开学前后校园周边综合治理部署,", "按照学雷锋志愿服务月活动统一安排,",
    "结合清明节假日期间森林防火工作要求,", "根据劳动节小长假文明旅游宣传部署,", "按照安全生产月主题活动实施方案,",
    "结合夏季高温天气防暑降温工作要求,", "根据汛期防汛防台风应急预案启动情况,", "按照中秋国庆双节期间市场保供要求,",
    "结合重阳节敬老爱老月系列活动安排,", "根据冬季供暖开始前燃气入户检查部署,", "按照年终岁末安全稳定工作总体要求,",
)
COUNTER_OF = {"inspection": ("inspections", "entries"), "certificate": ("certificates", "copies"),
              "meeting": ("meetings", "entries")}


def first_weekday(month: int) -> dt.datetime:
    day = dt.date(YEAR, month, 2)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, 9, 30, tzinfo=SH)


async def rows(client: Any, sql: str) -> list[Any]:
    params = {"start": dt.datetime(YEAR, 1, 1, tzinfo=SH), "end": dt.datetime(YEAR + 1, 1, 1, tzinfo=SH),
              "first": dt.date(YEAR, 1, 1), "last": dt.date(YEAR, 12, 31)}
    async with client.server.app[SERVICES].engine.connect() as conn:
        return list((await conn.execute(sa.text(sql), params)).all())


async def one(client: Any, sql: str) -> Any:
    return (await rows(client, sql))[0][0]


@pytest.fixture
async def year(env: Any) -> tuple[Any, list[MonthRecord], BurdenReport]:  # noqa: F811
    client, peer, _ = env
    records = [await run_month(client, peer, start=first_weekday(m), bind_accounts=m == 1, theme=THEMES[m - 1])
               for m in range(1, 13)]
    services = client.server.app[SERVICES]
    async with services.engine.connect() as conn:
        report = await build_burden_report(conn, year=YEAR, scope=None, settings=services.settings, now=LATER,
                                           item_texts={c: i.text for c, i in services.rules.current.items.items()})
    return client, records, report


async def _check_basic(client: Any, records: list[MonthRecord], report: BurdenReport) -> None:
    """基本情况: notices, assignments, distinct items with their administrative share, the seven with sources."""
    sent = sum(len(r.bot_codes) + len(r.reported_codes) for r in records)
    assert report.tasks == sent == await one(client, f"SELECT count(*) FROM tasks t WHERE {IN_YEAR}")
    assert report.assignments == await one(
        client, f"SELECT count(*) FROM task_targets tt JOIN tasks t ON t.id = tt.task_id WHERE {IN_YEAR}")
    natures: dict[tuple[str, str], Counter[str]] = {}
    for department, item, kind, nature in await rows(
            client, f"SELECT coalesce(t.department, '未注明部门'), t.item, t.kind, t.nature FROM tasks t WHERE {IN_YEAR}"):
        natures.setdefault((department, item or f"kind:{kind}"), Counter())[nature] += 1
    assert report.forms == ()  # no notice of the month names a catalogued form: 事项 are department × item or kind
    assert report.items == len(natures) and report.items < report.tasks  # twelve months, far fewer items
    assert report.administrative_items == sum(1 for c in natures.values() if c["administrative"] >= c["service"])
    for key in ("inspection", "ledger", "report", "certificate", "meeting"):
        seven = report.count(key)
        notices = await one(client, f"SELECT count(*) FROM task_targets tt JOIN tasks t ON t.id = tt.task_id "
                                    f"WHERE {IN_YEAR} AND t.kind = '{key}'")
        attr, column = COUNTER_OF.get(key, ("", ""))
        counted = "count" if column == "copies" else "1"  # certificates: copies; the others: lines
        counter = await one(client, f"SELECT coalesce(sum({counted}), 0) FROM counter_entries WHERE NOT removed "
                                    f"AND kind = '{key}' AND day BETWEEN :first AND :last") if attr else 0
        assert (seven.notices, seven.counter, seven.total) == (notices, counter, notices + counter), key
        assert seven.source == ("F、C1" if attr else "F"), key
        if attr:  # what the head logged, month by month
            assert counter == sum(getattr(r, attr) for r in records) > 0, key
    certificates = report.count("certificate")
    assert certificates.most == ("幸福社区", certificates.total)  # only 幸福社区's head logs counter work
    assert report.count("tasks").total == report.assignments and report.count("tasks").source == "F"


async def _check_problems(client: Any, report: BurdenReport) -> None:
    """存在问题: the figures' counts, the departments behind them, and quotes whose codes are in the log."""
    refused = await rows(client, f"SELECT t.department, count(*) FROM tasks t WHERE {IN_YEAR} AND t.status = 'refused' "
                                 "GROUP BY t.department")
    assert report.refused == sum(n for _, n in refused) >= 12  # the levy, every month
    assert dict(report.refused_by_department) == dict(refused)
    refused_codes = {c for (c,) in await rows(client, f"SELECT code FROM tasks t WHERE {IN_YEAR} AND status = 'refused'")}
    assert report.refused_quotes and {q.code for q in report.refused_quotes} <= refused_codes
    for field, condition in (("short_notice", "t.short_notice"), ("duplicates", "t.duplicate_of IS NOT NULL"),
                             ("unfunded", "t.listing = 'assist' AND NOT t.funded AND t.status NOT IN "
                                          "('refused', 'withdrawn')")):
        assert getattr(report, field) == await one(
            client, f"SELECT count(*) FROM tasks t WHERE {IN_YEAR} AND {condition}"), field
    by_department = await rows(client, f"SELECT coalesce(t.department, '未注明部门') AS d, count(*) AS n FROM task_targets tt "
                                       f"JOIN tasks t ON t.id = tt.task_id WHERE {IN_YEAR} GROUP BY d ORDER BY n DESC, d")
    assert report.count("tasks").top_departments == tuple((d, n) for d, n in by_department[:3])
    worst = report.count("tasks").top_departments[0][0]
    worst_codes = {c for (c,) in await rows(
        client, f"SELECT code FROM tasks t WHERE {IN_YEAR} AND coalesce(t.department, '未注明部门') = '{worst}'")}
    assert report.count("tasks").quotes and {q.code for q in report.count("tasks").quotes} <= worst_codes
    certificate = next(c for c in report.certificates if c.name == "贷款资信")
    assert (certificate.decision, certificate.requests, certificate.departments) == ("refuse", 36, ("银行",))


def _check_advice(report: BurdenReport) -> None:
    """对策建议: written from the figures, naming who and how many."""
    text = "\n".join(f"{r.topic}:{r.text}({r.source})" for r in report.recommendations)
    refused_department, refused_n = report.refused_by_department[0]
    assert f"{refused_department}({refused_n})" in text and "负面清单" in text
    assert "“贷款资信”36次" in text and "银行" in text  # certificates against the list, asked at the counter
    inspections = report.count("inspection")
    if inspections.top_departments:
        assert f"平均迎检{inspections.per_community:g}次" in text
    assert all(r.source for r in report.recommendations)


async def test_a_year_of_the_community_side_is_reported_in_three_parts_that_match_the_log(year: Any) -> None:
    client, records, report = year
    assert len(records) == 12 and all(r.linked_codes for r in records)
    await _check_basic(client, records, report)
    await _check_problems(client, report)
    _check_advice(report)
    md = render_markdown(report)
    parts = [md.index(h) for h in ("一、基本情况", "二、存在问题", "三、对策建议", "附:数据来源")]
    assert parts == sorted(parts)
    assert "F 月度数字" in md and "C1 社区登记的窗口工作" in md  # every source in the appendix, with its SQL


async def test_the_years_report_reads_back_from_word_and_renders_as_pdf(year: Any, tmp_path: Path) -> None:
    _, _, report = year
    document = Document(str(write_report(report, fmt="docx", path=tmp_path / "year.docx")))
    headings = [p.text for p in document.paragraphs if p.style is not None and p.style.name.startswith("Heading")]
    assert [h for h in headings if h[:2] in ("一、", "二、", "三、")] == ["一、基本情况", "二、存在问题", "三、对策建议"]
    seven = next(t for t in document.tables if t.rows[0].cells[0].text == "项目")
    read = {row.cells[0].text: [c.text for c in row.cells] for row in seven.rows[1:]}
    certificates = report.count("certificate")
    assert read["证明"][1:4] == [f"{certificates.total}件", str(certificates.notices), str(certificates.counter)]
    assert read["证明"][-1] == "F、C1"
    assert len(document.inline_shapes) == 1  # the chart
    pdf = pypdfium2.PdfDocument(str(write_report(report, fmt="pdf", path=tmp_path / "year.pdf")))
    try:
        text = pdf[0].get_textpage().get_text_range()
        assert report.title in text and "基本情况" in text
        image = pdf[0].render(scale=1).to_pil()
        assert image.size[0] > 500 and image.convert("L").getextrema()[0] < 100  # something dark was drawn
    finally:
        pdf.close()
