"""Several districts in one deployment (issue 17 part 5): names read in context (区民政局 of the sender's
district, 市民政局 the city's), 各社区 meaning the sender's district, the district on invites, accounts and
exports, and an import that will not take another district's community. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from bot.keys import SERVICES
from intake.accounts import add_invite
from intake.errors import InvalidRequest
from intake.org import CommunityRow, OrgRowsRefused, apply_org_rows
from intake.reports.export import TASK_COLUMNS, TaskFilters, iter_task_records
from intake.store.models import COMMUNITIES, DEPARTMENTS, ORG_IMPORTS, STREETS, TASK_TARGETS, TASKS, Role
from tests.bot.test_intake_chat import NOW, Chat
from tests.console_support import add_user, login
from tests.districts_support import HOME, OTHER, OTHER_COMMUNITY, bind_clerk, district_id, start_two_districts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SURVEY = "请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"
# the export's columns before issue 17, in order: outside readers rely on them
COLUMNS_BEFORE = ["任务编号", "收到时间", "下达部门", "任务类型", "性质", "清单类别", "事项编号", "证明判定", "截止日期",
                  "截止时间", "周期", "数量", "有经费", "经费(元)", "状态", "派往社区(状态)", "完成进度", "标记",
                  "发送人", "来源", "消息ID", "原文"]


@pytest.fixture
async def env(aiohttp_client: Any, db_url: str) -> Any:
    return await start_two_districts(aiohttp_client, db_url)


async def _issuer(client: Any, code_text: str) -> tuple[str, str, int | None, list[str]]:
    """(department, its level, its district, the communities) of the task whose code the reply names."""
    async with client.server.app[SERVICES].engine.connect() as conn:
        task = (await conn.execute(
            sa.select(TASKS.c.id, TASKS.c.code, DEPARTMENTS.c.name, DEPARTMENTS.c.level, DEPARTMENTS.c.district_id)
            .join(DEPARTMENTS, DEPARTMENTS.c.id == TASKS.c.department_id)
            .order_by(TASKS.c.id.desc()).limit(1))).one()
        targets = (await conn.execute(
            sa.select(COMMUNITIES.c.name).join(TASK_TARGETS, TASK_TARGETS.c.community_id == COMMUNITIES.c.id)
            .where(TASK_TARGETS.c.task_id == task.id).order_by(COMMUNITIES.c.id))).scalars().all()
    assert task.code in code_text
    return task.name, task.level, task.district_id, list(targets)


async def test_district_and_city_departments_of_one_name_stay_apart_and_are_read_in_the_senders_district(
        env: Any) -> None:
    client, peer = env
    home, other = await district_id(client, HOME), await district_id(client, OTHER)
    clerk_b = await bind_clerk(client, peer, "o-b", OTHER)
    clerk_a = await bind_clerk(client, peer, "o-a", HOME)

    by_b = await _issuer(client, (await clerk_b.say("【区民政局】" + SURVEY, msg_id=7001)).content)
    assert by_b == ("民政局", "district", other, [OTHER_COMMUNITY])  # 乙区's 民政局, to 乙区's communities only
    by_city = await _issuer(client, (await clerk_b.say("【市民政局】" + SURVEY, msg_id=7002)).content)
    assert by_city[:3] == ("民政局", "city", None)
    by_a = await _issuer(client, (await clerk_a.say("【区民政局】" + SURVEY, msg_id=7003)).content)
    assert by_a[:3] == ("民政局", "district", home) and OTHER_COMMUNITY not in by_a[3] and "幸福社区" in by_a[3]
    again = await _issuer(client, (await clerk_a.say("街道转发市民政局通知:" + SURVEY, msg_id=7004)).content)
    assert again[:3] == ("民政局", "city", None)  # the same city department, not a second one
    async with client.server.app[SERVICES].engine.connect() as conn:
        names = (await conn.execute(sa.select(DEPARTMENTS.c.level, DEPARTMENTS.c.district_id)
                                    .where(DEPARTMENTS.c.name == "民政局"))).all()
    assert sorted(names, key=str) == sorted([("city", None), ("district", home), ("district", other)], key=str)


async def test_an_invite_for_a_name_two_districts_share_asks_which_district(env: Any) -> None:
    client, peer = env
    async with client.server.app[SERVICES].engine.begin() as conn:
        with pytest.raises(InvalidRequest, match="--district"):
            await add_invite(conn, role=Role.clerk, department="宣传部", now=NOW)
        code = await add_invite(conn, role=Role.head, community=OTHER_COMMUNITY, now=NOW)  # names are unique
    reply = await Chat(client, peer, "o-head").say(f"绑定 {code}")
    assert f"绑定成功:{OTHER} {OTHER_COMMUNITY}" in reply.content


async def test_accounts_invites_and_exports_carry_the_district_with_the_old_columns_first(env: Any) -> None:
    client, peer = env
    clerk = await bind_clerk(client, peer, "o-b", OTHER)
    await clerk.say("【区民政局】" + SURVEY, msg_id=7101)
    await add_user(client.server.app[SERVICES].engine, "boss")
    await login(client, "boss")
    accounts = await (await client.get("/admin/accounts")).text()
    assert "<th>区</th>" in accounts and f"<td>{OTHER}</td>" in accounts
    invites = await (await client.get("/admin/invites")).text()
    assert "<th>区</th>" in invites and f"<td>{OTHER}</td>" in invites and f"{OTHER}/宣传部" in invites
    rows = list(csv.reader(io.StringIO((await (await client.get("/admin/tasks.csv")).read()).decode("utf-8-sig"))))
    assert rows[0] == [*COLUMNS_BEFORE, "区"] and [t for _, t in TASK_COLUMNS] == rows[0]
    assert rows[1][-1] == OTHER
    ledger = load_workbook(io.BytesIO(await (await client.get("/admin/ledger.xlsx", params={
        "community": OTHER_COMMUNITY})).read()))
    assert str(ledger["汇总"]["A1"].value).startswith(f"{OTHER}{OTHER_COMMUNITY} 工作台账")
    async with client.server.app[SERVICES].engine.connect() as conn:
        records = [r async for r in iter_task_records(conn, filters=TaskFilters(), tz=NOW.tzinfo)]  # type: ignore[arg-type]
    assert json.loads(json.dumps(records[0]))["district"] == OTHER
    assert records[0]["targets"][0]["district"] == OTHER


async def test_an_import_that_would_take_another_districts_community_is_refused_whole(env: Any) -> None:
    client, _ = env
    engine = client.server.app[SERVICES].engine
    async with engine.connect() as conn:
        versions = (await conn.execute(sa.select(sa.func.count()).select_from(ORG_IMPORTS))).scalar_one()
    rows = [CommunityRow(OTHER, "乙街道", "新建社区"), CommunityRow(OTHER, "乙街道", "幸福社区")]
    with pytest.raises(OrgRowsRefused) as refused:
        async with engine.begin() as conn:
            await apply_org_rows(conn, rows=rows, source="sheet.xlsx", author="test", now=NOW)
    assert refused.value.problems == [
        f"社区“幸福社区”已属于{HOME},不能再归入{OTHER}:同一部署中社区名称不能重复。"
        f"若{OTHER}也有同名社区,请在名称中注明区别(如“幸福社区({OTHER})”)后重新导入。"]
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(ORG_IMPORTS))).scalar_one() == versions
        assert (await conn.execute(sa.select(COMMUNITIES.c.id).where(COMMUNITIES.c.name == "新建社区"))).first() is None
        street = (await conn.execute(sa.select(STREETS.c.district_id).join(
            COMMUNITIES, COMMUNITIES.c.street_id == STREETS.c.id).where(COMMUNITIES.c.name == "幸福社区"))).scalar_one()
    assert street == await district_id(client, HOME)
