"""The form catalogue and the platform list end to end: notices through POST /wechat, decisions in the console.

A notice that names a form registers it; a later form from another department whose fields mostly
repeat it is flagged 重复采集 at field level in the receipt and on the catalogue page; an admin stops
the form and the next notice that sends it is refused with the decision quoted.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
import sqlalchemy as sa

from bot.keys import SERVICES
from intake.catalogue.notice import check_notice, get_form_rules, record_notice
from intake.media.extract import extract
from intake.media.limits import MediaLimits
from intake.sources import NoticeSource
from intake.store.models import Role
from intake.store.models_catalogue import FORMS, PLATFORMS
from tests.bot.test_intake_chat import bound, rows
from tests.conftest import make_settings
from tests.console_support import add_user, login
from tests.peer import MovingClock, WeChatPeer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SH = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 3, 9, 30, tzinfo=SH)

FIRST = ("【区民政局】请各社区于11月20日前填写《高龄老人走访慰问登记表》,栏目包括序号、姓名、身份证号码、性别、年龄、住址、"
         "联系电话、慰问金额,并登录全国养老服务信息系统录入。")
REPEATING = ("【区卫健委】请各社区于12月22日前填报《65岁以上老年人健康登记表》,栏目包括姓名、身份证号、性别、出生日期、"
             "家庭住址、手机号码、慢病情况,同时在健康浙江APP上传。")
AGAIN = "【区卫健委】请各社区于12月28日前补报《65岁以上老年人健康登记表》,未报的社区抓紧报送。"


@pytest.fixture
async def env(aiohttp_client: Any, db_url: str) -> tuple[Any, WeChatPeer]:
    settings = make_settings(db_url)
    from bot.app import create_app

    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    await add_user(client.server.app[SERVICES].engine)
    return client, WeChatPeer(settings)


async def form_id(client: Any, name: str) -> int:
    async with client.server.app[SERVICES].engine.connect() as conn:
        return int((await conn.execute(sa.select(FORMS.c.id).where(FORMS.c.name == name))).scalar_one())


async def test_field_level_repeat_is_flagged_and_a_stopped_form_refuses_the_next_notice(env: Any) -> None:
    client, peer = env
    mz = await bound(client, peer, "o-mz", Role.clerk, "民政局")
    wj = await bound(client, peer, "o-wj", Role.clerk, "卫健委")
    first = await mz.say(FIRST, at=NOW)
    assert first.content.startswith("已登记") and "重复采集" not in first.content
    second = await wj.say(REPEATING, at=NOW + dt.timedelta(days=30))
    assert second.content.startswith("已登记")
    assert ("重复采集:《65岁以上老年人健康登记表》7 项字段中有 5 项已由民政局于 2026-11-03 在《高龄老人走访慰问登记表》中采集"
            in second.content), second.content

    csrf = await login(client)
    page = await (await client.get("/admin/catalogue")).text()
    assert "《高龄老人走访慰问登记表》" in page and "7 项中 5 项已由民政局在《高龄老人走访慰问登记表》中采集" in page
    repeating = await form_id(client, "65岁以上老年人健康登记表")
    resp = await client.post(f"/admin/catalogue/{repeating}/decision", allow_redirects=False, data={
        "csrf_token": csrf, "decision": "stop", "note": "与民政局高龄老人登记表重复,改为共享民政数据"})
    assert resp.status == 303

    third = await wj.say(AGAIN, at=NOW + dt.timedelta(days=35))
    assert third.content.startswith("不予派发"), third.content
    assert "《65岁以上老年人健康登记表》(卫健委)已由区减负办在报表目录中停用,理由:与民政局高龄老人登记表重复,改为共享民政数据" in third.content
    code = re.search(r"R-\d{8}-\d{4}", third.content)
    assert code is not None
    task = (await rows(client, "SELECT status, review_note FROM tasks WHERE code = :c", c=code.group(0)))[0]
    assert task.status == "refused" and "65岁以上老年人健康登记表" in task.review_note
    assert await rows(client, "SELECT id FROM task_targets t WHERE t.status = 'open' AND t.task_id = "
                              "(SELECT id FROM tasks WHERE code = :c)", c=code.group(0)) == []
    # the first department's form is not stopped and is still sent
    fourth = await mz.say(FIRST.replace("11月20日", "12月20日"), at=NOW + dt.timedelta(days=36))
    assert fourth.content.startswith("已登记")


async def test_bad_decision_form_gets_a_clear_answer_and_changes_nothing(env: Any) -> None:
    client, peer = env
    mz = await bound(client, peer, "o-mz", Role.clerk, "民政局")
    await mz.say(FIRST, at=NOW)
    csrf = await login(client)
    target = await form_id(client, "高龄老人走访慰问登记表")
    resp = await client.post(f"/admin/catalogue/{target}/decision", data={
        "csrf_token": csrf, "decision": "merge", "merge_into": str(target)})
    assert "请选择另一张表作为并入对象" in await resp.text()
    resp = await client.post(f"/admin/catalogue/{target}/decision", data={"csrf_token": csrf, "decision": "destroy"})
    assert "destroy" in await resp.text()
    assert (await rows(client, "SELECT decision FROM forms"))[0].decision == "pending"


def _form_workbook() -> bytes:
    """A real Excel form: its sheet name and header row are the form's fields."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "困难老人名单"
    sheet.append(["序号", "姓  名", "身份证号码", "性别", "年龄（岁）", "现住址", "手机号"])
    sheet.append([1, "张三", "330100195001011234", "男", 76, "幸福里3幢", "13800000000"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def test_an_attached_form_is_registered_by_its_header_row_and_compared_with_the_rest(env: Any) -> None:
    client, peer = env
    mz = await bound(client, peer, "o-mz", Role.clerk, "民政局")
    await mz.say(FIRST, at=NOW)
    services = client.server.app[SERVICES]
    extracted = extract(_form_workbook(), filename="困难老人摸底表.xlsx", limits=MediaLimits(), ocr=None)
    attached = NoticeSource(extracted.source_type, sha256=extracted.sha256, name="困难老人摸底表.xlsx",
                            fields=extracted.fields)
    rules = get_form_rules(services.settings.rule_paths)
    text = "【区住建局】请各社区于11月30日前填写附件表格。"
    async with services.engine.begin() as conn:
        notice = await check_notice(conn, text=text, rules=rules, attachment=attached)
        assert notice.forms == ("困难老人摸底表",) and notice.stopped is None
        record = await record_notice(conn, notice=notice, task_id=1, department="住建局", department_id=None,
                                     recurrence=None, received_at=NOW + dt.timedelta(days=2), rules=rules,
                                     actor="test")
    (entry,) = record.forms
    assert entry.created and entry.name == "困难老人摸底表"
    assert entry.repeat is not None and (entry.repeat.shared, entry.repeat.total) == (6, 7)
    assert entry.repeat.shared_fields == ("姓名", "身份证号", "性别", "年龄", "住址", "联系电话")
    form = (await rows(client, "SELECT source, fields FROM forms WHERE name = '困难老人摸底表'"))[0]
    assert form.source == "attachment"

    # an admin stops the attached form: the next notice that attaches it is refused with the decision
    async with services.engine.begin() as conn:
        await conn.execute(sa.update(FORMS).where(FORMS.c.id == entry.id).values(decision="stop"))
        again = await check_notice(conn, text=text, rules=rules, attachment=attached)
    assert again.stopped is not None and again.refusal_note == "报表目录停用:《困难老人摸底表》"


async def test_console_entry_and_platform_merge_and_rename(env: Any) -> None:
    client, peer = env
    mz = await bound(client, peer, "o-mz", Role.clerk, "民政局")
    await mz.say(FIRST, at=NOW)
    await mz.say("【区民政局】请各社区于11月25日前将高龄老人信息录入智慧养老平台。", at=NOW + dt.timedelta(days=1))
    csrf = await login(client)
    resp = await client.post("/admin/catalogue", data={
        "csrf_token": csrf, "name": "《老年人慰问台账》", "department": "民政局", "recurrence": "monthly",
        "fields": "姓名、身份证号\n联系电话,住址"})
    page = await resp.text()
    assert "已登记《老年人慰问台账》" in page and "4 项字段中有 4 项已由民政局在《高龄老人走访慰问登记表》中采集" in page
    resp = await client.post("/admin/catalogue", data={"csrf_token": csrf, "name": " "})
    assert "请填写表格名称" in await resp.text()
    async with client.server.app[SERVICES].engine.connect() as conn:
        ids = {r.name: r.id for r in (await conn.execute(sa.select(PLATFORMS.c.id, PLATFORMS.c.name))).all()}
    assert set(ids) == {"全国养老服务信息系统", "智慧养老平台"}
    resp = await client.post(f"/admin/platforms/{ids['智慧养老平台']}", data={
        "csrf_token": csrf, "display_name": "智慧养老", "merge_into": str(ids["全国养老服务信息系统"])})
    assert "平台已保存" in await resp.text()
    resp = await client.post(f"/admin/platforms/{ids['全国养老服务信息系统']}", data={
        "csrf_token": csrf, "display_name": "", "merge_into": str(ids["智慧养老平台"])})
    assert "不能把平台并入它自己或已并入它的平台" in await resp.text()
    page = await (await client.get("/admin/report?year=2026")).text()
    assert "平台:全年1个" in page  # the merged platform counts once
    assert re.search(r'<a href="/admin/tasks/(R-\d{8}-\d{4})">\1</a>', page)  # quoted notices link to their task
    for fmt, magic in (("docx", b"PK"), ("pdf", b"%PDF"), ("md", "# 示范街道2026年度社区减负报告".encode())):
        resp = await client.get(f"/admin/report.{fmt}?year=2026")
        assert resp.status == 200 and (await resp.read()).startswith(magic), fmt
    assert "年份“26”不对" in await (await client.get("/admin/report?year=26")).text()
    assert "没有找到范围" in await (await client.get("/admin/report?year=2026&scope=community:无此社区")).text()
