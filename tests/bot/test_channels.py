"""Every channel against the local fake of the WeCom / WeChat API servers."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import aiohttp
import pytest

from bot.push import OutgoingMessage, WeChatSender, WeComAppSender, WeComRobotSender, truncate_utf8
from intake.settings import NotifySettings
from tests.fake_wechat_api import FakeWeChatApi, at, notify_settings

NOW = at("2026-12-01 09:07")


@pytest.fixture
async def fake(aiohttp_server):
    api = FakeWeChatApi()
    server = await aiohttp_server(api.app(), host="127.0.0.1")
    api.base = str(server.make_url("")).rstrip("/")  # type: ignore[attr-defined]
    return api


@pytest.fixture
def settings(tmp_path, sqlite_url, fake):
    return notify_settings(sqlite_url, tmp_path, api_base=fake.base)


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def msg(recipient: str, body: str = "【减负通提醒】R-1 今天截止", **kw) -> OutgoingMessage:
    return OutgoingMessage(recipient=recipient, body=body, now=kw.pop("now", NOW), **kw)


async def test_wecom_app_caches_the_token_and_refetches_when_it_expires(fake, settings, http) -> None:
    sender = WeComAppSender(settings.wecom, http)
    assert (await sender.send(msg("zhangsan"))).ok
    assert (await sender.send(msg("lisi", payload={"format": "markdown"}))).ok
    assert len(fake.calls_to("/cgi-bin/gettoken")) == 1
    sends = fake.calls_to("/cgi-bin/message/send")
    assert sends[0].body["msgtype"] == "text" and sends[0].body["text"]["content"].startswith("【减负通提醒】")
    assert sends[0].body["agentid"] == 1000002 and sends[1].body["msgtype"] == "markdown"
    assert fake.calls_to("/cgi-bin/gettoken")[0].params["corpsecret"] == "demo-wecom-secret"
    fake.expire_tokens()  # 42001
    assert (await sender.send(msg("zhangsan"))).ok
    assert len(fake.calls_to("/cgi-bin/gettoken")) == 2


@pytest.mark.parametrize("errcode", [40014, 40001])
async def test_wecom_app_refetches_on_invalid_token(fake, settings, http, errcode) -> None:
    sender = WeComAppSender(settings.wecom, http)
    assert (await sender.send(msg("zhangsan"))).ok
    fake.script("/cgi-bin/message/send", errcode)
    assert (await sender.send(msg("zhangsan"))).ok
    assert len(fake.calls_to("/cgi-bin/gettoken")) == 2


async def test_wecom_app_token_refreshes_by_time(fake, settings, http) -> None:
    sender = WeComAppSender(settings.wecom, http)
    await sender.send(msg("a"))
    await sender.send(msg("a", now=NOW + dt.timedelta(hours=1, minutes=50)))
    assert len(fake.calls_to("/cgi-bin/gettoken")) == 1
    await sender.send(msg("a", now=NOW + dt.timedelta(hours=1, minutes=56)))  # refreshed 5 min before 2 h
    assert len(fake.calls_to("/cgi-bin/gettoken")) == 2


async def test_wecom_app_invalid_users(fake, settings, http) -> None:
    sender = WeComAppSender(settings.wecom, http)
    partial = await sender.send(msg("zhangsan|ghost1"))
    assert partial.ok and partial.note == "invaliduser=ghost1"
    everyone = await sender.send(msg("ghost2"))
    assert not everyone.ok and everyone.permanent


async def test_wecom_app_rate_limit_defers(fake, settings, http) -> None:
    sender = WeComAppSender(settings.wecom, http)
    fake.script("/cgi-bin/message/send", 45009)
    result = await sender.send(msg("zhangsan"))
    assert not result.ok and result.defer_until == NOW + dt.timedelta(seconds=60)


async def test_network_failure_is_a_retryable_result(settings, http) -> None:
    dead = settings.wecom.model_copy(update={"api_base": "http://127.0.0.1:9"})
    result = await WeComAppSender(dead, http).send(msg("zhangsan"))
    assert not result.ok and not result.permanent and result.defer_until is None


async def test_robot_markdown_is_cut_to_4096_bytes_and_rate_limited_not_dropped(fake, settings, http) -> None:
    notify = NotifySettings(robot_per_minute=20, robot_webhooks={"幸福社区": "key-xingfu"})
    sender = WeComRobotSender(settings.wecom, notify, http)
    long_body = "社区减负" * 2000
    results = [await sender.send(msg("幸福社区", long_body, now=NOW + dt.timedelta(seconds=i))) for i in range(21)]
    assert all(r.ok for r in results[:20])
    assert not results[20].ok and results[20].defer_until == NOW + dt.timedelta(seconds=60)
    calls = fake.calls_to("/cgi-bin/webhook/send")
    assert len(calls) == 20 and calls[0].params["key"] == "key-xingfu"
    content = calls[0].body["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096 and content.endswith("…")
    assert (await sender.send(msg("幸福社区", now=NOW + dt.timedelta(seconds=60)))).ok  # the window moved on


async def test_robot_image_is_base64_with_md5(fake, settings, http, tmp_path: Path) -> None:
    image = tmp_path / "chart.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    sender = WeComRobotSender(settings.wecom, NotifySettings(), http)
    assert (await sender.send(msg("幸福社区", payload={"webhook": "k1", "image_path": str(image)}))).ok
    (call,) = fake.calls_to("/cgi-bin/webhook/send")
    assert call.body["msgtype"] == "image"
    assert call.body["image"]["md5"] == hashlib.md5(image.read_bytes()).hexdigest()
    missing = await sender.send(msg("和平社区"))
    assert not missing.ok and missing.permanent
    fake.script("/cgi-bin/webhook/send", 45009)
    assert (await sender.send(msg("幸福社区", payload={"webhook": "k1"}))).defer_until is not None


async def test_wechat_custom_message_inside_48_hours(fake, settings, http) -> None:
    sender = WeChatSender(settings.wechat, http)
    result = await sender.send(msg("openid-1", last_seen_at=NOW - dt.timedelta(hours=47)))
    assert result.ok and result.note is None
    (call,) = fake.calls_to("/cgi-bin/message/custom/send")
    assert call.body == {"touser": "openid-1", "msgtype": "text", "text": {"content": "【减负通提醒】R-1 今天截止"}}
    assert fake.calls_to("/cgi-bin/token")[0].params["appid"] == "wxjianfudemo0001"


@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_wechat_falls_back_to_template_on_window_errors(fake, settings, http, errcode) -> None:
    wechat = settings.wechat.model_copy(update={
        "template_id": "TPL-1", "template_fields": {"first": "subject", "keyword1": "code", "remark": "body"}})
    sender = WeChatSender(wechat, http)
    fake.script("/cgi-bin/message/custom/send", errcode)
    result = await sender.send(msg("openid-1", subject="任务今日到期 R-1", last_seen_at=NOW - dt.timedelta(hours=1),
                                   payload={"fields": {"code": "R-1"}, "link": "http://x/admin"}))
    assert result.ok and result.note and "template" in result.note
    (call,) = fake.calls_to("/cgi-bin/message/template/send")
    assert call.body["template_id"] == "TPL-1" and call.body["url"] == "http://x/admin"
    assert call.body["data"]["first"] == {"value": "任务今日到期 R-1"}
    assert call.body["data"]["keyword1"] == {"value": "R-1"}


async def test_wechat_outside_48_hours_goes_straight_to_template(fake, settings, http) -> None:
    wechat = settings.wechat.model_copy(update={"template_id": "TPL-1"})
    sender = WeChatSender(wechat, http)
    assert (await sender.send(msg("openid-1", last_seen_at=NOW - dt.timedelta(hours=49)))).ok
    assert fake.calls_to("/cgi-bin/message/custom/send") == []
    assert len(fake.calls_to("/cgi-bin/message/template/send")) == 1
    no_template = await WeChatSender(settings.wechat, http).send(msg("openid-1"))
    assert not no_template.ok and no_template.permanent


async def test_wechat_refetches_an_expired_token(fake, settings, http) -> None:
    sender = WeChatSender(settings.wechat, http)
    seen = NOW - dt.timedelta(hours=1)
    assert (await sender.send(msg("o", last_seen_at=seen))).ok
    fake.expire_tokens()
    assert (await sender.send(msg("o", last_seen_at=seen))).ok
    assert len(fake.calls_to("/cgi-bin/token")) == 2
    fake.script("/cgi-bin/message/custom/send", 45033)
    assert (await sender.send(msg("o", last_seen_at=seen))).defer_until is not None


@pytest.mark.parametrize(("text", "limit", "expected"), [("abc", 3, "abc"), ("社区减负", 9, "社区…"), ("社区", 5, "…"), ("社区减", 6, "社…")])
def test_truncate_utf8_never_splits_a_character(text: str, limit: int, expected: str) -> None:
    assert truncate_utf8(text, limit) == expected
