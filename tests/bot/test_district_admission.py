"""Admission per level and several districts in one deployment (issue 17 parts 4 and 5), end to end: chat
through POST /wechat with real XML, the console through its forms, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.console import overrides
from bot.keys import SERVICES
from bot.settings import Settings
from classifiers import load_rules
from intake.accounts import add_invite
from intake.console_users import add_admin_user
from intake.org import CommunityRow, apply_org_rows, get_district_id
from intake.store.models import DEPARTMENTS, RULE_VERSIONS, TASKS, Role
from tests.bot.test_intake_chat import NEGATIVE_LEVY, NOW, Chat
from tests.conftest import make_settings
from tests.console_support import PASSWORD, login
from tests.peer import MovingClock, WeChatPeer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HOME = "示范街道"  # config.toml's district (幸福社区 … 建设社区)
OTHER = "乙区"
ADMITTED = "A90 | 党报党刊征订(本区订阅经费由区财政保障) | 党报 3, 党刊 3, 征订 3, 订阅 3"


@pytest.fixture
async def env(aiohttp_client: Any, db_url: str) -> AsyncIterator[tuple[Any, WeChatPeer, Settings]]:
    """The app with a second district, 乙区 (乙街道: 东风社区), which has its own 宣传部."""
    settings = make_settings(db_url)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    async with client.server.app[SERVICES].engine.begin() as conn:
        await apply_org_rows(conn, rows=[CommunityRow(OTHER, "乙街道", "东风社区")], source="test", author="test",
                             now=NOW, departments=["宣传部"])
    yield client, WeChatPeer(settings), settings


async def _clerk(client: Any, peer: WeChatPeer, user: str, district: str) -> Chat:
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, department="宣传部", district=district,
                                now=NOW - dt.timedelta(days=1))
    chat = Chat(client, peer, user)
    reply = await chat.say(f"绑定 {code}")
    assert "绑定成功" in reply.content, reply.content
    return chat


async def _last_task(client: Any) -> Any:
    """The newest task with its issuing department's district."""
    async with client.server.app[SERVICES].engine.connect() as conn:
        return (await conn.execute(
            sa.select(TASKS.c.status, TASKS.c.listing, TASKS.c.item, DEPARTMENTS.c.district_id)
            .join(DEPARTMENTS, DEPARTMENTS.c.id == TASKS.c.department_id)
            .order_by(TASKS.c.id.desc()).limit(1))).one()


async def _district_admin(client: Any, username: str, district: str, level: str = "district") -> str:
    async with client.server.app[SERVICES].engine.begin() as conn:
        target = await get_district_id(conn, name=district)
        if level == "street":
            target = (await conn.execute(sa.text("SELECT id FROM streets WHERE district_id = :d"),
                                         {"d": target})).scalar_one()
        await add_admin_user(conn, username=username, password=PASSWORD, scope_level=level, scope_id=target)
    return await login(client, username)


def _sections() -> tuple[str, str]:
    """(the negative list without N6 报刊征订, the assist list with N6's subject admitted as A90)."""
    data = load_rules().data
    negative = "\n".join(line for line in overrides.section_text(data, "negative").splitlines()
                         if not line.startswith("N6 "))
    return negative, overrides.section_text(data, "assist") + ADMITTED + "\n"


async def test_the_same_notice_is_refused_in_one_district_and_admitted_in_another_that_lists_it(env: Any) -> None:
    client, peer, _ = env
    home, other = await _clerk(client, peer, "o-xcb-home", HOME), await _clerk(client, peer, "o-xcb-other", OTHER)
    before = await other.say(NEGATIVE_LEVY, msg_id=9001)
    assert "不予派发" in before.content and "N6" in before.content  # the city default refuses it everywhere

    token = await _district_admin(client, "yi", OTHER)
    negative, assist = _sections()
    for section, body in (("negative", negative), ("assist", assist)):
        resp = await client.post(f"/admin/lists/{section}", data={"csrf_token": token, "body": body},
                                 allow_redirects=False)
        assert resp.status == 303, await resp.text()
    page = await (await client.get("/admin/lists")).text()
    assert "乙区清单" in page and "A90" in page

    admitted = await other.say(NEGATIVE_LEVY, msg_id=9002)
    assert "不予派发" not in admitted.content and "A90" in admitted.content, admitted.content
    async with client.server.app[SERVICES].engine.connect() as conn:
        home_id, other_id = await get_district_id(conn, name=HOME), await get_district_id(conn, name=OTHER)
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
    client, _, _ = env
    token = await _district_admin(client, "jie", OTHER, level="street")
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
    client, _, _ = env
    token = await _district_admin(client, "yi", OTHER)
    _, assist = _sections()
    async with client.server.app[SERVICES].engine.connect() as conn:
        home_id = await get_district_id(conn, name=HOME)
    resp = await client.post(f"/admin/lists/assist?district={home_id}", data={"csrf_token": token, "body": assist},
                             allow_redirects=False)
    assert resp.status == 303  # the query names another district: a district admin's edit is still its own
    async with client.server.app[SERVICES].engine.connect() as conn:
        levels = (await conn.execute(sa.select(RULE_VERSIONS.c.district_id))).scalars().all()
        assert levels == [await get_district_id(conn, name=OTHER)]
