"""Chat accounts with a scope: a street's admin binds with an invite limited to the street, asks for 月报 in
chat and hears only their street; each street's monthly digest is pushed to that street's admins (through
the real WeChat sender, against the local fake API server), never to another street's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.keys import CLOCK, SERVICES
from intake.accounts import add_invite
from intake.jobs import deliver_outbox
from intake.org import CommunityRow, apply_org_rows
from intake.reports.monthly import send_monthly_digests
from intake.store.models import ACCOUNTS, STREETS
from intake.store.values import Role
from tests.console_support import seed_task
from tests.fake_wechat_api import FakeWeChatApi, notify_settings
from tests.peer import MovingClock, WeChatPeer, text_xml

SH = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=SH)
SECRET = "乙街道内部事项"
JIA = ("幸福社区", "和平社区", "建设社区")
YI = ("光明社区", "东风社区")


@pytest.fixture
async def env(aiohttp_client: Any, tmp_path: Any, sqlite_url: str, fake: FakeWeChatApi) -> Any:
    settings = notify_settings(sqlite_url, tmp_path, api_base=fake.base)
    settings = settings.model_copy(update={"notify": settings.notify.model_copy(update={"admins": "wechat"})})
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    engine = client.server.app[SERVICES].engine
    async with engine.begin() as conn:
        await apply_org_rows(conn, rows=[*(CommunityRow("示范街道", "甲街道", n) for n in JIA),
                                         *(CommunityRow("示范街道", "乙街道", n) for n in YI)],
                             source="test", author="test", now=NOW)
        streets = dict((await conn.execute(sa.select(STREETS.c.name, STREETS.c.id))).all())
    return client, WeChatPeer(settings), streets


async def say(client: Any, peer: WeChatPeer, user: str, text: str) -> str:
    client.server.app[CLOCK].now = int(NOW.timestamp())
    xml = text_xml(from_user=user, content=text, create_time=int(NOW.timestamp()))
    return (await peer.post_wechat(client, xml, timestamp=int(NOW.timestamp()))).content


async def bind_admin(client: Any, peer: WeChatPeer, user: str, *, street: int | None) -> str:
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.admin, now=NOW - dt.timedelta(days=1), created_by="test",
                                scope_level="street" if street else None, scope_id=street)
    return await say(client, peer, user, f"绑定 {code}")


async def test_an_admin_invite_with_a_street_scope_binds_the_account_to_that_street(env: Any) -> None:
    client, peer, streets = env
    reply = await bind_admin(client, peer, "o-jia", street=streets["甲街道"])
    assert reply.startswith("绑定成功:甲街道(街道) 管理员") and "月报" in reply
    async with client.server.app[SERVICES].engine.connect() as conn:
        row = (await conn.execute(sa.select(ACCOUNTS.c.role, ACCOUNTS.c.scope_level, ACCOUNTS.c.scope_id)
                                  .where(ACCOUNTS.c.external_id == "o-jia"))).one()
    assert tuple(row) == ("admin", "street", streets["甲街道"])
    assert "甲街道" in await say(client, peer, "o-jia", "帮助")


async def test_a_street_admin_asks_for_the_digest_in_chat_and_hears_only_their_street(env: Any) -> None:
    client, peer, streets = env
    services = client.server.app[SERVICES]
    await bind_admin(client, peer, "o-jia", street=streets["甲街道"])
    await bind_admin(client, peer, "o-yi", street=streets["乙街道"])
    assert "还没有月报" in await say(client, peer, "o-jia", "月报")
    received = dt.datetime(2026, 11, 10, 9, 0, tzinfo=SH)
    await seed_task(services.engine, raw_text=f"【民政局】{SECRET}:请报送台账", communities=YI, received_at=received)
    await seed_task(services.engine, communities=("幸福社区",), received_at=received)
    await seed_task(services.engine, communities=("和平社区",), received_at=received)
    await send_monthly_digests(services, now=NOW, month="2026-11", only_if_due=False)
    jia = await say(client, peer, "o-jia", "月报")
    assert jia.startswith("【示范街道甲街道2026年11月减负月报】") and "收到任务 2 件" in jia
    assert SECRET not in jia and "乙街道" not in jia and f"street:{streets['甲街道']}" in jia
    assert await say(client, peer, "o-jia", "月报 2026-11") == jia
    assert "2026-10 月报还没有生成" in await say(client, peer, "o-jia", "月报 2026-10")
    yi = await say(client, peer, "o-yi", "月报")
    assert yi.startswith("【示范街道乙街道2026年11月减负月报】") and "收到任务 1 件" in yi
    # bound after the run: the text the run left in the street's (the admins') console inbox
    await bind_admin(client, peer, "o-jia-later", street=streets["甲街道"])
    assert await say(client, peer, "o-jia-later", "月报") == jia
    await bind_admin(client, peer, "o-boss-later", street=None)
    boss = await say(client, peer, "o-boss-later", "月报")
    assert boss.startswith("【示范街道2026年11月减负月报】\n收到任务 3 件") and boss.endswith("/admin/digests/2026-11/district")


async def test_each_streets_digest_is_pushed_to_its_own_admins_and_the_districts_to_the_whole_deployments(
        env: Any, fake: FakeWeChatApi) -> None:
    client, peer, streets = env
    services = client.server.app[SERVICES]
    await bind_admin(client, peer, "o-jia", street=streets["甲街道"])
    await bind_admin(client, peer, "o-yi", street=streets["乙街道"])
    await bind_admin(client, peer, "o-boss", street=None)
    received = dt.datetime(2026, 11, 10, 9, 0, tzinfo=SH)
    await seed_task(services.engine, raw_text=f"【民政局】{SECRET}:请报送台账", communities=YI, received_at=received)
    await seed_task(services.engine, communities=("幸福社区",), received_at=received)
    await send_monthly_digests(services, now=NOW, month="2026-11", only_if_due=False)
    await deliver_outbox(services, now=NOW, senders=services.senders)
    sent: dict[str, list[str]] = {}
    for call in fake.calls:
        if call.body and "touser" in call.body:
            sent.setdefault(call.body["touser"], []).append(str(call.body))
    assert len(sent["o-jia"]) == 1 and "甲街道2026年11月减负月报" in sent["o-jia"][0] and SECRET not in sent["o-jia"][0]
    assert len(sent["o-yi"]) == 1 and "乙街道2026年11月减负月报" in sent["o-yi"][0]
    assert len(sent["o-boss"]) == 1 and "示范街道2026年11月减负月报" in sent["o-boss"][0]
    assert "甲街道" not in sent["o-boss"][0] and "乙街道" not in sent["o-boss"][0]


async def test_a_clerk_asking_for_the_digest_is_told_who_gets_it(env: Any) -> None:
    client, peer, _ = env
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, department="民政局", now=NOW - dt.timedelta(days=1))
    await say(client, peer, "o-clerk", f"绑定 {code}")
    assert "只供街道、区的管理员使用" in await say(client, peer, "o-clerk", "月报")


async def test_only_an_admin_invite_may_carry_a_scope(env: Any) -> None:
    from intake.errors import InvalidRequest

    client, _, streets = env
    async with client.server.app[SERVICES].engine.begin() as conn:
        with pytest.raises(InvalidRequest, match="只有管理员"):
            await add_invite(conn, role=Role.head, community="幸福社区", now=NOW, scope_level="street",
                             scope_id=streets["甲街道"])


async def test_a_street_admins_free_text_is_not_logged_as_a_task(env: Any) -> None:
    from intake.store.models import TASKS

    client, peer, streets = env
    await bind_admin(client, peer, "o-jia", street=streets["甲街道"])
    reply = await say(client, peer, "o-jia", "【区民政局】请各社区于12月20日前报送辖区低保家庭走访情况汇总表。")
    assert "管理员账号不登记任务通知" in reply
    async with client.server.app[SERVICES].engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(TASKS))).scalar() == 0


async def test_a_digest_whose_message_went_to_no_inbox_the_admin_can_name_is_answered_in_short(env: Any) -> None:
    from bot.chat.texts_admin import build_digest_reply
    from intake.reports.chat_digest import get_archived_digest
    from tests.fake_wechat_api import insert

    client, _, _ = env
    engine = client.server.app[SERVICES].engine
    await insert(engine, "digests", month="2026-11", scope="district",
                 content={"title": "示范街道2026年11月减负月报", "tasks": 4, "estimated_hours": 9.5})
    async with engine.connect() as conn:
        found = await get_archived_digest(conn, scope="district", month=None, recipients=["wechat:o-nobody"])
    assert found is not None
    assert build_digest_reply(found, link="L") == "【示范街道2026年11月减负月报】收到任务 4 件,估算 9.5 小时。\n完整月报:L"
