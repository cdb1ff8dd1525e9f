"""The README's walk-through "one district, two streets", end to end through the real app: the tree from
config.toml's [[district]] tables, street admins made with ``jianfu admin create --scope``, 乙街道's admin
inviting its 街道办's clerk in the console, the clerk forwarding a district notice with an earlier deadline
through POST /wechat (层层加码, both dates, due at the earlier), and 甲街道's admin logging in to the console
and seeing only 甲街道."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.cli import main as jianfu
from bot.keys import CLOCK, SERVICES
from bot.settings import load_settings
from intake.store.models import COMMUNITIES, REMINDERS, STREETS, TASK_TARGETS, TASKS
from tests.conftest import CONFIG
from tests.console_support import PASSWORD, csrf_of, login
from tests.peer import MovingClock, WeChatPeer, text_xml

TZ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
TREE = '''[[district]]
name = "示范区"
city = "示范市"
[[district.streets]]
name = "甲街道"
departments = ["街道社区服务中心"]
communities = [{ name = "幸福社区", staff = 9 }, { name = "和平社区", staff = 8 }]
[[district.streets]]
name = "乙街道"
communities = [{ name = "光明社区", staff = 7 }, { name = "东风社区", staff = 8 }]
'''
FORWARD = ("【乙街道】转发区民政局通知:请各社区于12月10日前报送高龄老人花名册。\n"
           "街道要求:请各社区于12月5日前报街道,另请附入户照片。")
DISTRICT_NOTICE = "【区民政局】请各社区于12月20日前报送辖区低保家庭走访情况汇总表。"


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped config.toml with the walk-through's tree in place of the flat [district]."""
    text = re.sub(r"\[district\]\n.*?\n\]\n", TREE, CONFIG.read_text(encoding="utf-8"), count=1, flags=re.S)
    assert "[[district]]" in text and "[district]\n" not in text
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    for key, value in {"JIANFU_DATABASE_URL": sqlite_url, "JIANFU_SERVER_ENVIRONMENT": "test",
                       "JIANFU_MEDIA_WARM_START": "false", "JIANFU_MEDIA_DIR": str(tmp_path / "media")}.items():
        monkeypatch.setenv(key, value)
    return path


async def _cli(*argv: str, stdin: str = "") -> int:
    """``jianfu …`` as a person types it (in a thread: the command runs its own event loop)."""
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return await asyncio.to_thread(jianfu, list(argv))
    finally:
        sys.stdin = old


async def _say(client: Any, peer: WeChatPeer, user: str, text: str) -> str:
    client.server.app[CLOCK].now = int(NOW.timestamp())
    xml = text_xml(from_user=user, content=text, create_time=int(NOW.timestamp()))
    return (await peer.post_wechat(client, xml, timestamp=int(NOW.timestamp()))).content


async def _invite_in_console(client: Any, token: str, role: str, target: str) -> str:
    page = await (await client.post("/admin/invites", data={"csrf_token": token, "role": role,
                                                           "target": target})).text()
    found = re.search(r"新邀请码:<code>([A-Z0-9]+)</code>", page)
    assert found, page[:500]
    return found.group(1)


async def _logout(client: Any) -> None:
    token = csrf_of(await (await client.get("/admin/tasks")).text())
    await client.post("/admin/logout", data={"csrf_token": token})


async def test_one_district_two_streets_the_walk_through(aiohttp_client: Any, config: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(config)
    client = await aiohttp_client(create_app(settings, background=False, clock=MovingClock(NOW.timestamp())))
    peer, engine = WeChatPeer(settings), client.server.app[SERVICES].engine
    async with engine.connect() as conn:  # start-up put the tree of config.toml in the database
        tree = dict((await conn.execute(sa.select(COMMUNITIES.c.name, STREETS.c.name)
                                        .join(STREETS, STREETS.c.id == COMMUNITIES.c.street_id))).all())
    assert tree == {"幸福社区": "甲街道", "和平社区": "甲街道", "光明社区": "乙街道", "东风社区": "乙街道"}
    # the district admin makes each street's admin
    for name, scope in (("jia", "street:甲街道"), ("yi", "street:乙街道")):
        assert await _cli("admin", "create", name, "--scope", scope, "--config", str(config),
                          stdin=PASSWORD + "\n") == 0
    assert "已创建后台用户 yi(admin,范围:乙街道(街道))" in capsys.readouterr().out
    assert await _cli("invite", "--role", "clerk", "--department", "民政局", "--config", str(config)) == 0
    district_code = capsys.readouterr().out.strip().splitlines()[-1]
    assert "绑定成功" in await _say(client, peer, "o-minzheng", f"绑定 {district_code}")
    district_receipt = await _say(client, peer, "o-minzheng", DISTRICT_NOTICE)
    assert "对象:幸福社区、和平社区、光明社区、东风社区" in district_receipt

    # 乙街道's admin invites its 街道办's clerk in the console; the clerk binds and forwards
    token = await login(client, "yi")
    code = await _invite_in_console(client, token, "clerk", "街道办")
    assert "绑定成功:示范区 街道办 部门联络员" in await _say(client, peer, "o-yi-clerk", f"绑定 {code}")
    receipt = await _say(client, peer, "o-yi-clerk", FORWARD)
    assert "部门:民政局" in receipt and "截止:2026-12-05" in receipt
    assert "层层加码:街道办转发时提前截止时间、增加工作。按转发要求 12月5日 截止(原通知截止 12月10日)" in receipt
    assert "对象:光明社区、东风社区" in receipt  # 乙街道's own communities, not the whole district's
    forwarded = re.search(r"R-\d{8}-\d{4}", receipt)
    assert forwarded
    async with engine.connect() as conn:
        task = (await conn.execute(sa.select(TASKS).where(TASKS.c.code == forwarded.group(0)))).one()
        due = set((await conn.execute(sa.select(TASK_TARGETS.c.due_date).where(TASK_TARGETS.c.task_id == task.id)))
                  .scalars())
        last_reminder = (await conn.execute(sa.select(sa.func.max(REMINDERS.c.fire_at)).join(
            TASK_TARGETS, TASK_TARGETS.c.id == REMINDERS.c.target_id).where(TASK_TARGETS.c.task_id == task.id)
            .where(REMINDERS.c.kind == "due"))).scalar()
    assert (task.deadline, task.issuer_deadline) == (dt.date(2026, 12, 5), dt.date(2026, 12, 10))
    assert due == {dt.date(2026, 12, 5)}
    assert last_reminder is not None and last_reminder.astimezone(TZ).date() == dt.date(2026, 12, 5)
    page = await (await client.get(f"/admin/tasks/{task.code}")).text()
    assert "原通知截止 12月10日" in page and "12月5日" in page
    async with engine.connect() as conn:
        streets = dict((await conn.execute(sa.select(STREETS.c.name, STREETS.c.id))).all())
    theirs = await (await client.get(f"/admin/digests/2026-11/street:{streets['乙街道']}/digest.json")).json()
    assert theirs["tasks"] == 2 and theirs["escalations"] == [["街道办", 1]]
    await _logout(client)

    # 甲街道's admin sees only 甲街道
    await login(client, "jia")
    log = await (await client.get("/admin/tasks")).text()
    assert "低保家庭走访" in log and task.code not in log and "花名册" not in log
    assert (await client.get(f"/admin/tasks/{task.code}")).status == 404
    assert task.code not in await (await client.get("/admin/tasks.csv")).text()
    assert task.code not in await (await client.get("/admin/tasks", params={"q": "花名册"})).text()
    directory = await (await client.get("/admin/directory")).text()
    assert "幸福社区" in directory and "光明社区" not in directory
    own = await (await client.get(f"/admin/digests/2026-11/street:{streets['甲街道']}/digest.json")).json()
    assert own["tasks"] == 1 and own["escalations"] == []
    assert (await client.get(f"/admin/digests/2026-11/street:{streets['乙街道']}/digest.json")).status == 404
