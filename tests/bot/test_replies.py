"""bot.wire.replies: passive reply XML built with ElementTree; hostile text survives exactly."""

from __future__ import annotations

import pytest
from defusedxml.ElementTree import fromstring
from hypothesis import given
from hypothesis import strategies as st

from bot.wire.messages import TextMessage, parse_message
from bot.wire.replies import SUCCESS, Article, build_news_reply, build_text_reply, build_xml, reply_to

INCOMING = (
    b"<xml><ToUserName><![CDATA[gh_jianfu]]></ToUserName><FromUserName><![CDATA[o_clerk]]></FromUserName>"
    b"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    b"<Content><![CDATA[\xe5\xb8\xae\xe5\x8a\xa9]]></Content><MsgId>42</MsgId></xml>"
)

HOSTILE_TEXTS = [
    "]]>",
    "<![CDATA[x]]>]]>",
    "<script>alert('x')</script>",
    "a & b &amp; &lt; &#x26;",
    "任务已登记：R-2024-0001，截止 2024-06-01 17:00 ✅😀",
    "\"quotes\" and 'apostrophes'",
    "line\nbreak\ttab",
    "carriage\r\nreturn\rlone",
    "   leading and trailing spaces   ",
    "",
    "<xml><ToUserName>evil</ToUserName></xml>",
]


def fields(xml: str) -> dict[str, str]:
    root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


def test_success_constant() -> None:
    assert SUCCESS == "success"


@pytest.mark.parametrize("content", HOSTILE_TEXTS)
def test_text_reply_content_round_trips_exactly(content: str) -> None:
    xml = build_text_reply(to_user="o_clerk", from_user="gh_jianfu", content=content, create_time=1700000001)
    assert fields(xml) == {
        "ToUserName": "o_clerk",
        "FromUserName": "gh_jianfu",
        "CreateTime": "1700000001",
        "MsgType": "text",
        "Content": content,
    }


@pytest.mark.parametrize("content", HOSTILE_TEXTS)
def test_text_reply_round_trips_through_our_message_parser(content: str) -> None:
    """A reply is shaped like an incoming text message; our hardened parser reads it back exactly."""
    xml = build_text_reply(to_user="o_clerk", from_user="gh_jianfu", content=content, create_time=1)
    message = parse_message(xml.replace("</xml>", "<MsgId>1</MsgId></xml>").encode())
    assert isinstance(message, TextMessage) and message.content == content


@pytest.mark.parametrize("content", HOSTILE_TEXTS)
def test_text_reply_reads_back_in_wechatpy(content: str) -> None:
    import wechatpy
    xml = build_text_reply(to_user="o_clerk", from_user="gh_jianfu", content=content, create_time=1)
    message = wechatpy.parse_message(xml)
    assert message.type == "text"
    assert (message.source, message.target) == ("gh_jianfu", "o_clerk")
    # wechatpy reads with xmltodict, which strips surrounding whitespace (CDATA or not)
    assert (message.content or "") == content.strip()


def test_text_reply_does_not_inject_elements() -> None:
    xml = build_text_reply(
        to_user="o</ToUserName><MsgType>news</MsgType><ToUserName>x",
        from_user="gh",
        content="</Content><MsgType>news</MsgType>",
        create_time=1,
    )
    parsed = fields(xml)
    assert parsed["MsgType"] == "text"
    assert list(parsed) == ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"]


def test_reply_to_swaps_from_and_to() -> None:
    message = parse_message(INCOMING)
    parsed = fields(reply_to(message, "已收到", now=1700000005))
    assert parsed["ToUserName"] == message.from_user == "o_clerk"
    assert parsed["FromUserName"] == message.to_user == "gh_jianfu"
    assert parsed["CreateTime"] == "1700000005"
    assert parsed["Content"] == "已收到"


def test_news_reply_carries_exactly_one_article() -> None:
    article = Article(
        title="任务回执 <R-1>",
        description="幸福社区 & 和平社区 ]]>",
        url="https://example.org/t?id=1&x=2",
        pic_url="https://example.org/p.png",
    )
    xml = build_news_reply(to_user="o_clerk", from_user="gh_jianfu", create_time=7, article=article)
    root = fromstring(xml)
    assert root.findtext("MsgType") == "news"
    assert root.findtext("ArticleCount") == "1"
    items = root.findall("Articles/item")
    assert len(items) == 1
    item = items[0]
    assert {child.tag: child.text for child in item} == {
        "Title": article.title,
        "Description": article.description,
        "PicUrl": article.pic_url,
        "Url": article.url,
    }
    assert (root.findtext("ToUserName"), root.findtext("FromUserName")) == ("o_clerk", "gh_jianfu")


def test_news_reply_reads_back_in_wechatpy_shape() -> None:
    xml = build_news_reply(
        to_user="o", from_user="gh", create_time=1, article=Article(title="t", description="d", url="u")
    )
    root = fromstring(xml)
    assert root.findtext("Articles/item/PicUrl") == ""


def test_characters_xml_cannot_carry_become_replacement_characters() -> None:
    xml = build_text_reply(to_user="o", from_user="g", content="a\x00b\x1bc\ud800d\uffffe", create_time=1)
    assert fields(xml)["Content"] == "a\ufffdb\ufffdc\ufffdd\ufffde"


def test_carriage_return_is_escaped_not_normalised() -> None:
    xml = build_text_reply(to_user="o", from_user="g", content="a\r\nb", create_time=1)
    assert "&#13;" in xml and "\r" not in xml


def test_build_xml_nests_pairs() -> None:
    xml = build_xml([("A", "1"), ("B", [("C", 2), ("D", [("E", "x<y")])])])
    assert xml == "<xml><A>1</A><B><C>2</C><D><E>x&lt;y</E></D></B></xml>"


def _xml_text() -> st.SearchStrategy[str]:
    # Any text XML 1.0 can carry: no surrogates, no C0 controls but tab, LF, CR; no U+FFFE/U+FFFF.
    return st.text(
        st.characters(
            blacklist_categories=["Cs"],
            blacklist_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"],
        )
    )


@given(content=_xml_text(), to_user=_xml_text(), from_user=_xml_text(), now=st.integers(0, 2**40))
def test_any_text_round_trips_through_the_reply(content: str, to_user: str, from_user: str, now: int) -> None:
    xml = build_text_reply(to_user=to_user, from_user=from_user, content=content, create_time=now)
    assert fields(xml) == {
        "ToUserName": to_user,
        "FromUserName": from_user,
        "CreateTime": str(now),
        "MsgType": "text",
        "Content": content,
    }


@given(content=st.text())
def test_any_string_at_all_gives_well_formed_xml(content: str) -> None:
    xml = build_text_reply(to_user="o", from_user="g", content=content, create_time=1)
    assert fields(xml)["MsgType"] == "text"
