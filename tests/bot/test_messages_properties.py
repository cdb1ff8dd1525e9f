"""Property tests for bot.wire.messages: any bytes give a Message or XmlError, nothing else."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.wire.errors import XmlError
from bot.wire.messages import Message, TextMessage, UnknownMessage, parse_envelope, parse_message
from bot.wire.replies import build_xml

SAMPLES = [
    b"<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o]]></FromUserName>"
    b"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    b"<Content><![CDATA[\xe8\xaf\xb7\xe6\x8a\xa5\xe9\x80\x81]]></Content><MsgId>1</MsgId></xml>",
    b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>location</MsgType><Location_X>23.1</Location_X><Location_Y>113.3</Location_Y>"
    b"<Scale>20</Scale><Label>x</Label><MsgId>2</MsgId></xml>",
    b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>event</MsgType><Event>SCAN</Event><EventKey>1</EventKey><Ticket>t</Ticket></xml>",
    b"<xml><ToUserName>ww</ToUserName><Encrypt>abc</Encrypt><AgentID>2</AgentID></xml>",
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "x">]><xml><Encrypt>&e;</Encrypt></xml>',
]

XML_TEXT = st.text(
    st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"],
    )
)
TAGS = st.sampled_from(
    [
        "ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey",
        "Ticket", "PicUrl", "MediaId", "Format", "Recognition", "ThumbMediaId", "Location_X", "Location_Y",
        "Scale", "Label", "Title", "Description", "Url", "AgentID", "Encrypt", "x",
    ]
)  # fmt: skip
VALUES = st.one_of(
    XML_TEXT,
    st.sampled_from(["text", "image", "voice", "video", "shortvideo", "location", "link", "event"]),
    st.sampled_from(["subscribe", "unsubscribe", "CLICK", "click", "VIEW", "SCAN", "LOCATION"]),
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(str),
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        choice = draw(st.sampled_from(["replace", "insert", "delete", "splice"]))
        if choice == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif choice == "insert":
            data[at:at] = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=8),
                    st.sampled_from([b"<", b"&", b"]]>", b"<!DOCTYPE x>", b"\xff", b"&lol;"]),
                )
            )
        elif choice == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            data = data[:at] + bytearray(draw(st.sampled_from(SAMPLES)))[at:]
    return bytes(data)


def _parse(body: bytes) -> Message | None:
    try:
        message = parse_message(body)
    except XmlError:
        return None
    assert isinstance(message, Message)
    return message


def _envelope(body: bytes) -> dict[str, str] | None:
    try:
        fields = parse_envelope(body)
    except XmlError:
        return None
    assert isinstance(fields.get("Encrypt"), str)
    return fields


@given(body=st.binary(max_size=1024))
def test_random_bytes_give_a_message_or_xml_error(body: bytes) -> None:
    _parse(body)
    _envelope(body)


@given(body=mutated())
def test_mutated_valid_xml_gives_a_message_or_xml_error(body: bytes) -> None:
    _parse(body)
    _envelope(body)


@given(body=st.text(max_size=512).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_random_text_gives_a_message_or_xml_error(body: bytes) -> None:
    _parse(body)
    _envelope(body)


@given(pairs=st.lists(st.tuples(TAGS, VALUES), max_size=12))
def test_well_formed_xml_with_random_fields_gives_a_message_or_xml_error(
    pairs: list[tuple[str, str]],
) -> None:
    body = build_xml(pairs).encode()
    message = _parse(body)
    if message is not None:
        first: dict[str, str] = {}
        for tag, value in pairs:
            first.setdefault(tag, value)
        assert message.from_user == first["FromUserName"]
        assert message.create_time == int(first["CreateTime"].strip())


@given(
    msg_type=XML_TEXT.filter(
        lambda t: (
            t.strip().lower()
            not in {"text", "image", "voice", "video", "shortvideo", "location", "link", "event"}
        )
    )
)
def test_any_unknown_msg_type_is_unknown_message(msg_type: str) -> None:
    body = build_xml(
        [("ToUserName", "gh"), ("FromUserName", "o"), ("CreateTime", 1), ("MsgType", msg_type)]
    ).encode()
    assert type(parse_message(body)) is UnknownMessage


@given(
    event=XML_TEXT.filter(
        lambda t: t.strip().lower() not in {"subscribe", "unsubscribe", "click", "view", "scan"}
    )
)
def test_any_unknown_event_is_unknown_message(event: str) -> None:
    body = build_xml(
        [
            ("ToUserName", "gh"),
            ("FromUserName", "o"),
            ("CreateTime", 1),
            ("MsgType", "event"),
            ("Event", event),
        ]
    ).encode()
    message = parse_message(body)
    assert type(message) is UnknownMessage and message.event == event


@given(content=XML_TEXT, msg_id=st.text("0123456789", min_size=1, max_size=20))
def test_any_text_content_parses_exactly(content: str, msg_id: str) -> None:
    body = build_xml(
        [
            ("ToUserName", "gh"),
            ("FromUserName", "o"),
            ("CreateTime", 1),
            ("MsgType", "text"),
            ("Content", content),
            ("MsgId", msg_id),
        ]
    ).encode()
    message = parse_message(body)
    assert isinstance(message, TextMessage)
    assert message.content == content and message.dedupe_key == f"msg:{msg_id}"
