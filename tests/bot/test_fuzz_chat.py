"""Fuzzing the chat layer with hypothesis: the command parser, and the whole `/wechat` path.

The pure parts (``bot.chat.dialogue.normalize`` and ``is_command``) get properties over any text.
The full path (signature → decrypt → parse → dedupe → classify → store → reply) runs against a
real `jianfu serve` subprocess with a bound clerk, so every example is one genuine callback:
whatever a clerk types, the answer is a 200 with a reply, never an error; mutated wire bodies
get a documented refusal (400/403/413), never a 5xx. The XML parser and crypto functions have
their own property tests (test_messages_properties.py, test_crypto_properties.py).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.dialogue import ROUTES, is_command, normalize
from bot.settings import Settings
from tests.conftest import make_settings
from tests.peer import WeChatPeer, sign, text_xml
from tests.serverproc import ServerProcess, add_invites

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WHITESPACE = st.sampled_from([" ", "\u3000", "\t", "  ", " \u3000 ", "\n"])
XML_CHARS = st.characters(
    blacklist_categories=["Cs"],
    blacklist_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"],
)
CHAT_PIECES = st.sampled_from([
    "绑定", "帮助", "查询", "撤回", "我的任务", "任务", "完成", "评价", "不限", "R-20261207-0001", "R-", "民政局",
    "请各社区", "于12月25日前", "报送", "台账", "共68户", "每月", "5", "]]>", "<xml>", "&amp;", "\u3000", "！", "１２",
    "明天", "下周一", "3天内", "【区委宣传部】", "征订", "不予", "?", "？", "😀", "\x85", "\u2028",
])
CHAT_TEXT = st.one_of(
    st.text(XML_CHARS, max_size=300),
    st.lists(st.one_of(CHAT_PIECES, WHITESPACE, st.text(XML_CHARS, max_size=6)), max_size=25).map("".join),
)


# ---------------------------------------------------------------- the command parser (pure)

@given(st.text())
def test_normalize_is_idempotent_and_leaves_single_ascii_spaces(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert "\u3000" not in once and "  " not in once
    assert once == once.strip()


@given(CHAT_TEXT)
def test_is_command_never_raises_and_ignores_spacing_noise(text: str) -> None:
    assert is_command(text) == is_command(normalize(text))
    assert is_command(text) == is_command(f"\u3000{text} ")


@given(
    verb=st.sampled_from(["查询", "撤回", "完成"]),
    space=WHITESPACE,
    code=st.from_regex(r"R-20[0-9]{6}-[0-9]{4}", fullmatch=True),
)
def test_commands_with_any_spacing_are_commands_and_keep_their_code(verb: str, space: str, code: str) -> None:
    text = f"{verb}{space}{code}"
    assert is_command(text)
    route = next(r for r in ROUTES if r.pattern.match(normalize(text)))
    match = route.pattern.match(normalize(text))
    assert match is not None and match.group(1) == code


@given(space=WHITESPACE, code=st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=4, max_size=12), wide=st.booleans())
def test_binding_code_survives_full_width_spelling(space: str, code: str, wide: bool) -> None:
    spelled = "".join(chr(ord(c) + 0xFEE0) for c in code) if wide else code.lower()
    text = normalize(f"绑定{space}{spelled}")
    match = ROUTES[0].pattern.match(text)
    assert match is not None and match.group(1).upper() == code


# ---------------------------------------------------------------- the whole /wechat path (live server)

@dataclass
class Live:
    server: ServerProcess
    settings: Settings
    peer: WeChatPeer
    clerk: str


_ids = itertools.count(9_500_000_000)


def _post(live: Live, query: dict[str, str], body: bytes) -> tuple[int, str]:
    url = f"{live.server.url}/wechat?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/xml"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")


def _plain_query(live: Live) -> dict[str, str]:
    ts, nonce = str(int(time.time())), secrets.token_hex(8)  # a nonce per request, as WeChat sends
    return {"signature": sign(live.settings.wechat.token, ts, nonce), "timestamp": ts, "nonce": nonce}


def _aes_request(live: Live, xml: str) -> tuple[dict[str, str], bytes]:
    query = _plain_query(live)
    envelope = fromstring(live.peer.wechat.encrypt_message(xml, query["nonce"], query["timestamp"]))
    encrypt = envelope.findtext("Encrypt")
    query |= {"encrypt_type": "aes",
              "msg_signature": sign(live.settings.wechat.token, query["timestamp"], query["nonce"], encrypt)}
    body = f"<xml><ToUserName><![CDATA[gh_jianfu]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return query, body.encode()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("fuzz")
    db = root / "jianfu.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    settings = make_settings(url)
    server = ServerProcess(env={"JIANFU_DATABASE_URL": url}, log_path=root / "server.log").start()
    try:
        live = Live(server, settings, WeChatPeer(settings), "o-fuzz-clerk")
        code = asyncio.run(add_invites(settings, role="clerk", targets=["民政局"]))[0]
        status, body = _post(live, _plain_query(live), text_xml(from_user=live.clerk, content=f"绑定 {code}").encode())
        assert status == 200 and "绑定成功" in body, body
        yield live
    finally:
        server.stop()
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(text=CHAT_TEXT, safe=st.booleans())
def test_any_text_from_a_bound_clerk_gets_a_200_reply(live: Live, text: str, safe: bool) -> None:
    xml = text_xml(from_user=live.clerk, content=text, msg_id=next(_ids))
    query, body = _aes_request(live, xml) if safe else (_plain_query(live), xml.encode())
    status, answer = _post(live, query, body)
    assert status == 200, (status, answer[:300])
    if answer != "success":
        root = fromstring(answer.encode())
        assert root.findtext("Encrypt" if safe else "Content")


@st.composite
def mutated_body(draw: st.DrawFn, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from([b"<", b"&", b"]]>", b"\xff\xfe", b"&x;", b"A" * 40, b"=="]))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            del data[at:]
    return bytes(data)


@FUZZ
@given(data=st.data(), safe=st.booleans())
def test_mutated_callbacks_get_a_documented_answer_never_a_5xx(live: Live, data: st.DataObject, safe: bool) -> None:
    xml = text_xml(from_user=live.clerk, content="请各社区于12月25日前报送台账。", msg_id=next(_ids))
    query, body = _aes_request(live, xml) if safe else (_plain_query(live), xml.encode())
    status, answer = _post(live, query, data.draw(mutated_body(body)))
    assert status in (200, 400, 403, 413), (status, answer[:300])
