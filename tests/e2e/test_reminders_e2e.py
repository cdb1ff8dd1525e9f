"""The whole reminder flow with the real app, on SQLite and on PostgreSQL.

A clerk sends a task through POST /wechat → its reminders are planned for each community →
the sweep (frozen clock) queues the head's reminder at its time and delivers it once → a second
sweep sends nothing → the head's ``完成`` stops the rest, while the other communities still hear.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.keys import CLOCK, SERVICES
from bot.push import InboxSender, RecordingSender
from intake.accounts import add_invite
from intake.jobs import run_sweep
from intake.store.models import Role
from tests.conftest import make_settings
from tests.peer import MovingClock, Reply, WeChatPeer, text_xml

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=SH)  # a Monday: the 25th is well ahead, not short notice
TASK = "【区民政局】请各社区于12月25日前对辖区低保家庭开展入户核查,共68户,填写核查表后报社会救助科。"
HEAD = "o-head-xingfu"
_msg_ids = itertools.count(88_000_001)


async def say(client: Any, peer: WeChatPeer, user: str, text: str, *, at: dt.datetime) -> Reply:
    client.server.app[CLOCK].now = int(at.timestamp())  # the server's clock follows the conversation
    xml = text_xml(from_user=user, content=text, create_time=int(at.timestamp()), msg_id=next(_msg_ids))
    return await peer.post_wechat(client, xml, timestamp=int(at.timestamp()))


async def bind(client: Any, peer: WeChatPeer, user: str, role: Role, **target: str) -> None:
    async with client.server.app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=role, now=NOW - dt.timedelta(days=1), **target)
    reply = await say(client, peer, user, f"绑定 {code}", at=NOW - dt.timedelta(minutes=5))
    assert "绑定成功" in reply.content, reply.content


async def rows(client: Any, sql: str, **params: Any) -> list[Any]:
    async with client.server.app[SERVICES].engine.connect() as conn:
        return list((await conn.execute(sa.text(sql), params)).all())


def local(value: Any) -> dt.datetime:
    """A fire_at read back through raw SQL (text on SQLite, aware on PostgreSQL) as local time."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SH)


async def test_a_chat_task_is_reminded_once_at_the_head_and_done_stops_the_rest(aiohttp_client: Any, db_url: str) -> None:
    settings = make_settings(db_url, notify_heads="auto")
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    services = client.server.app[SERVICES]
    peer = WeChatPeer(settings)
    await bind(client, peer, "o-clerk-mz", Role.clerk, department="民政局")
    await bind(client, peer, HEAD, Role.head, community="幸福社区")

    reply = await say(client, peer, "o-clerk-mz", TASK, at=NOW)
    assert reply.content.startswith("已登记 R-20261207-"), reply.content
    code = reply.content.split()[1]

    # planned for the head's community: 3 days and 1 day before, the due day and the next morning, after 09:00
    # local with a jitter that never lands on :00 or :30
    planned = await rows(client, """
        SELECT r.kind, r.fire_at FROM reminders r
        JOIN task_targets g ON g.id = r.target_id JOIN communities c ON c.id = g.community_id
        WHERE c.name = '幸福社区' ORDER BY r.fire_at""")
    assert [r.kind for r in planned] == ["before_3", "before_1", "due", "overdue"]
    fire = {r.kind: local(r.fire_at) for r in planned}
    assert [fire[k].date() for k in ("before_3", "before_1", "due", "overdue")] == [
        dt.date(2026, 12, 22), dt.date(2026, 12, 24), dt.date(2026, 12, 25), dt.date(2026, 12, 26)]
    assert all(f.hour == 9 and 1 <= f.minute <= 8 and f.minute not in (0, 30) for f in fire.values())

    head, inbox = RecordingSender(), InboxSender()
    senders: dict[str, Any] = {"wechat": head, "inbox": inbox}

    async def sweep(at: dt.datetime) -> Any:
        return await run_sweep(services, now=at, senders=senders, digests=False)

    await sweep(fire["before_3"] - dt.timedelta(minutes=1))
    assert head.messages == []
    report = await sweep(fire["before_3"])
    assert report.sent >= 1
    (message,) = head.messages
    assert message.recipient == HEAD and message.channel == "wechat" and message.kind == "reminder"
    assert code in message.body and "还有3天" in message.body and f"完成 {code}" in message.body
    assert message.payload["reminder"] == "before_3" and message.payload["due"] == "2026-12-25"

    await sweep(fire["before_3"] + dt.timedelta(minutes=10))  # the other communities' jitter has passed too
    assert len(head.messages) == 1
    outbox = await rows(client, "SELECT status FROM outbox WHERE recipient = :r", r=HEAD)
    assert [o.status for o in outbox] == ["sent"]

    done = await say(client, peer, HEAD, f"完成 {code}", at=dt.datetime(2026, 12, 23, 10, 0, tzinfo=SH))
    assert "已标记" in done.content, done.content
    for day in (24, 25, 26, 27):
        await sweep(dt.datetime(2026, 12, day, 12, 0, tzinfo=SH))
    assert len(head.messages) == 1  # nothing after 完成
    left = await rows(client, """
        SELECT r.kind, r.sent_at, r.cancelled FROM reminders r
        JOIN task_targets g ON g.id = r.target_id JOIN communities c ON c.id = g.community_id
        WHERE c.name = '幸福社区' AND r.kind <> 'before_3' ORDER BY r.fire_at""")
    assert [(r.kind, r.sent_at, bool(r.cancelled)) for r in left] == [
        ("before_1", None, True), ("due", None, True), ("overdue", None, True)]
    # the communities without a bound head still had every reminder, in their inbox, once each
    others = await rows(client, """
        SELECT recipient FROM outbox WHERE channel = 'inbox' AND kind = 'reminder' AND status = 'sent'""")
    per_community = {o.recipient for o in others}
    assert "幸福社区" not in per_community
    assert len(per_community) == len(settings.district.communities) - 1
    assert len(others) == 4 * len(per_community)
