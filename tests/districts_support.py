"""Two districts in one deployment, for the tests of admission per level and of names read in context:
config.toml's 示范街道 (幸福社区 … 建设社区) and 乙区 (乙街道: 东湖社区), each with its own 宣传部 and 民政局."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from bot.app import create_app
from bot.keys import SERVICES
from intake.accounts import add_invite
from intake.console_users import add_admin_user
from intake.org import CommunityRow, apply_org_rows, get_district_id
from intake.store.models import STREETS, Role
from tests.bot.test_intake_chat import NOW, Chat
from tests.conftest import make_settings
from tests.console_support import PASSWORD, login
from tests.peer import MovingClock, WeChatPeer

HOME = "示范街道"
OTHER = "乙区"
OTHER_COMMUNITY = "东湖社区"


async def start_two_districts(aiohttp_client: Any, db_url: str) -> tuple[Any, WeChatPeer]:
    settings = make_settings(db_url)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    async with client.server.app[SERVICES].engine.begin() as conn:
        await apply_org_rows(conn, rows=[CommunityRow(OTHER, "乙街道", OTHER_COMMUNITY)], source="test",
                             author="test", now=NOW, departments=["宣传部", "民政局"])
    return client, WeChatPeer(settings)


async def bind_clerk(client: Any, peer: WeChatPeer, user: str, district: str, department: str = "宣传部") -> Chat:
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, department=department, district=district,
                                now=NOW - dt.timedelta(days=1))
    chat = Chat(client, peer, user)
    reply = await chat.say(f"绑定 {code}")
    assert f"绑定成功:{district} {department}" in reply.content, reply.content
    return chat


async def district_id(client: Any, name: str) -> int:
    async with client.server.app[SERVICES].engine.connect() as conn:
        found = await get_district_id(conn, name=name)
    assert found is not None
    return found


async def login_scoped(client: Any, username: str, district: str, level: str = "district") -> str:
    """A console user scoped to `district` (or to its first street), logged in; returns a CSRF token."""
    target = await district_id(client, district)
    async with client.server.app[SERVICES].engine.begin() as conn:
        if level == "street":
            target = (await conn.execute(sa.select(STREETS.c.id).where(STREETS.c.district_id == target))).scalar_one()
        await add_admin_user(conn, username=username, password=PASSWORD, scope_level=level, scope_id=target)
    return await login(client, username)
