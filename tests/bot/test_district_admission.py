"""Admission per level (issue 17 part 4), end to end: chat through POST /wechat with real XML, the console
through its forms, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from bot.console import overrides
from bot.keys import SERVICES
from classifiers import load_rules
from intake.store.models import DEPARTMENTS, RULE_VERSIONS, TASKS
from tests.bot.test_intake_chat import NEGATIVE_LEVY, UNLISTED
from tests.districts_support import HOME, OTHER, bind_clerk, district_id, login_scoped, start_two_districts

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ADMITTED = "A90 | 党报党刊征订(本区订阅经费由区财政保障) | 党报 3, 党刊 3, 征订 3, 订阅 3"


@pytest.fixture
async def env(aiohttp_client: Any, db_url: str) -> Any:
    return await start_two_districts(aiohttp_client, db_url)


async def _last_task(client: Any) -> Any:
    """The newest task with its issuing department's district."""
    async with client.server.app[SERVICES].engine.connect() as conn:
        return (await conn.execute(
            sa.select(TASKS.c.status, TASKS.c.listing, TASKS.c.item, DEPARTMENTS.c.district_id)
            .join(DEPARTMENTS, DEPARTMENTS.c.id == TASKS.c.department_id)
            .order_by(TASKS.c.id.desc()).limit(1))).one()


def _sections() -> tuple[str, str]:
    """(the negative list without N6 报刊征订, the assist list with N6's subject admitted as A90)."""
    data = load_rules().data
    negative = "\n".join(line for line in overrides.section_text(data, "negative").splitlines()
                         if not line.startswith("N6 "))
    return negative, overrides.section_text(data, "assist") + ADMITTED + "\n"


async def test_the_same_notice_is_refused_in_one_district_and_admitted_in_another_that_lists_it(env: Any) -> None:
    client, peer = env
    home = await bind_clerk(client, peer, "o-xcb-home", HOME)
    other = await bind_clerk(client, peer, "o-xcb-other", OTHER)
    before = await other.say(NEGATIVE_LEVY, msg_id=9001)
    assert "不予派发" in before.content and "N6" in before.content  # the city default refuses it everywhere

    token = await login_scoped(client, "yi", OTHER)
    negative, assist = _sections()
    for section, body in (("negative", negative), ("assist", assist)):
        resp = await client.post(f"/admin/lists/{section}", data={"csrf_token": token, "body": body},
                                 allow_redirects=False)
        assert resp.status == 303, await resp.text()
    page = await (await client.get("/admin/lists")).text()
    assert "乙区清单" in page and "A90" in page

    admitted = await other.say(NEGATIVE_LEVY, msg_id=9002)
    assert "不予派发" not in admitted.content and "A90" in admitted.content, admitted.content
    home_id, other_id = await district_id(client, HOME), await district_id(client, OTHER)
    row = await _last_task(client)
    assert (row.listing, row.item, row.district_id) == ("assist", "A90", other_id) and row.status != "refused"
    refused = await home.say(NEGATIVE_LEVY, msg_id=9003)
    assert "不予派发" in refused.content and "N6" in refused.content  # 示范街道 still reads the city default
    row = await _last_task(client)
    assert (row.listing, row.item, row.status, row.district_id) == ("negative", "N6", "refused", home_id)
    async with client.server.app[SERVICES].engine.connect() as conn:
        levels = (await conn.execute(sa.select(RULE_VERSIONS.c.district_id))).scalars().all()
    assert levels and set(levels) == {other_id}  # versioned, as 乙区's own, the city default untouched


async def test_a_street_admin_cannot_loosen_the_lists_and_is_told_why(env: Any) -> None:
    client, _ = env
    token = await login_scoped(client, "jie", OTHER, level="street")
    _, assist = _sections()
    resp = await client.post("/admin/lists/assist", data={"csrf_token": token, "body": assist}, allow_redirects=False)
    assert resp.status == 403
    text = await resp.text()
    assert "街道不能修改清单" in text and "区管理员" in text
    page = await (await client.get("/admin/lists")).text()  # the street reads its district's lists, no form
    assert "乙区清单" in page and 'action="/admin/lists/assist' not in page
    async with client.server.app[SERVICES].engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(RULE_VERSIONS))).scalar_one() == 0


async def test_a_district_admin_edits_only_their_own_districts_lists(env: Any) -> None:
    client, _ = env
    token = await login_scoped(client, "yi", OTHER)
    _, assist = _sections()
    home_id = await district_id(client, HOME)
    resp = await client.post(f"/admin/lists/assist?district={home_id}", data={"csrf_token": token, "body": assist},
                             allow_redirects=False)
    assert resp.status == 303  # the query names another district: a district admin's edit is still its own
    async with client.server.app[SERVICES].engine.connect() as conn:
        (version, level), = (await conn.execute(sa.select(RULE_VERSIONS.c.id, RULE_VERSIONS.c.district_id))).all()
    assert level == await district_id(client, OTHER)
    page = await client.get(f"/admin/lists/versions/{version}")
    assert page.status == 200 and OTHER in await page.text()
    await login_scoped(client, "jia", HOME)  # another district's admin: 乙区's versions are not theirs to read
    assert (await client.get(f"/admin/lists/versions/{version}")).status == 404


async def test_a_district_edit_that_would_undo_its_own_correction_is_shown_before_it_is_saved(env: Any) -> None:
    client, peer = env
    clerk = await bind_clerk(client, peer, "o-xcb-other", OTHER)
    unlisted = await clerk.say(UNLISTED, msg_id=9101)
    async with client.server.app[SERVICES].engine.connect() as conn:
        code, status = (await conn.execute(sa.select(TASKS.c.code, TASKS.c.status)
                                           .order_by(TASKS.c.id.desc()).limit(1))).one()
    assert code in unlisted.content and status == "pending_review"
    token = await login_scoped(client, "yi", OTHER)
    resp = await client.post(f"/admin/tasks/{code}/admit", data={
        "csrf_token": token, "name": "生态环境保护宣传", "basis": "区环委会文件", "funding": "区财政每社区300元",
        "amount_yuan": "300", "duration": "2026年", "keywords": "生态环境、宣传资料"})
    assert resp.status == 200 and "已准入" in await resp.text()
    other = await district_id(client, OTHER)
    rules = client.server.app[SERVICES].rules
    item = next(c for c, e in rules.for_district(other).data["items"].items() if e.get("text") == "生态环境保护宣传")
    assert item not in rules.current.data["items"]  # admitted into 乙区's lists, not the city default's
    body = "".join(line + "\n" for line in overrides.section_text(rules.for_district(other).data, "assist")
                   .splitlines() if not line.startswith(f"{item} "))
    resp = await client.post("/admin/lists/assist", data={"csrf_token": token, "body": body})
    text = await resp.text()
    assert resp.status == 409 and "推翻 1 条" in text and code in text
    async with client.server.app[SERVICES].engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(RULE_VERSIONS))).scalar_one() == 1
    resp = await client.post("/admin/lists/assist", data={"csrf_token": token, "body": body, "confirm_undo": "1"},
                             allow_redirects=False)
    assert resp.status == 303
