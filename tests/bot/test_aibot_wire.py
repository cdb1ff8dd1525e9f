"""The intelligent bot's wire format: the message shapes of WeCom's documentation (path/100719) parsed,
its encryption with an empty receive id and its media encryption checked against wechatpy's cipher."""

from __future__ import annotations

import base64
import json

import pytest
from wechatpy.crypto.base import BasePrpCrypto
from wechatpy.crypto.cryptography import WeChatCipher
from wechatpy.crypto.pkcs7 import PKCS7Encoder

from bot.wire.aibot import BotContent, build_stream_reply, parse_bot_envelope, parse_bot_message
from bot.wire.crypto import MessageCrypto, build_signature
from bot.wire.errors import DecryptError, JsonError

KEY = "jianfuDemoBotKey0123456789abcdefghijklmnopq"
RAW_KEY = base64.b64decode(KEY + "=")

# the documentation's examples, field for field
DOC_TEXT = {"msgid": "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=", "aibotid": "AIBOTID", "chatid": "CHATID",
            "chattype": "group", "from": {"userid": "USERID"}, "response_url": "RESPONSEURL", "msgtype": "text",
            "text": {"content": "@RobotA hello robot"},
            "quote": {"msgtype": "text", "text": {"content": "这是今日的测试情况"}}}
DOC_MIXED = {"msgid": "CAIQz7/MjQYY/NGagIOAgAMgq4KM0AI=", "aibotid": "AIBOTID", "chatid": "CHATID",
             "chattype": "group", "from": {"userid": "USERID"}, "response_url": "RESPONSEURL", "msgtype": "mixed",
             "mixed": {"msg_item": [{"msgtype": "text", "text": {"content": "@机器人 这是今日的测试情况"}},
                                    {"msgtype": "image", "image": {"url": "URL"}}]}}
DOC_VOICE = {"msgid": "m3", "aibotid": "AIBOTID", "chattype": "single", "from": {"userid": "USERID"},
             "response_url": "RESPONSEURL", "msgtype": "voice", "voice": {"content": "这是语音转成文本的内容"}}
DOC_FILE = {"msgid": "m4", "aibotid": "AIBOTID", "chattype": "single", "from": {"userid": "USERID"},
            "response_url": "RESPONSEURL", "msgtype": "file", "file": {"url": "URL"}}
DOC_STREAM = {"msgid": "m5", "aibotid": "AIBOTID", "chatid": "CHATID", "chattype": "group",
              "from": {"userid": "USERID"}, "msgtype": "stream", "stream": {"id": "STREAMID"}}


def _parse(value: dict[str, object]) -> object:
    return parse_bot_message(json.dumps(value, ensure_ascii=False).encode())


def test_documented_messages_parse_into_what_jianfu_reads() -> None:
    text = parse_bot_message(json.dumps(DOC_TEXT).encode())
    assert (text.msg_id, text.user_id, text.chat_id, text.response_url) == (
        "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=", "USERID", "CHATID", "RESPONSEURL")
    assert text.content == BotContent(text="hello robot")  # the @-mention is not part of the notice
    assert text.quote == BotContent(text="这是今日的测试情况")
    mixed = parse_bot_message(json.dumps(DOC_MIXED).encode())
    assert mixed.content == BotContent(text="这是今日的测试情况", image_urls=("URL",))
    voice = parse_bot_message(json.dumps(DOC_VOICE).encode())
    assert voice.content == BotContent(text="这是语音转成文本的内容", voice=True) and voice.chat_id is None
    assert parse_bot_message(json.dumps(DOC_FILE).encode()).content.file_url == "URL"
    assert parse_bot_message(json.dumps(DOC_STREAM).encode()).stream_id == "STREAMID"


@pytest.mark.parametrize("body", [b"", b"[]", b"{\"encrypt\": 5}", b"\xff\xfe", b"{}", b"<xml></xml>"])
def test_a_bad_envelope_is_a_json_error(body: bytes) -> None:
    with pytest.raises(JsonError):
        parse_bot_envelope(body)


@pytest.mark.parametrize("message", [{"msgtype": "text", "text": "x"}, {"msgtype": 3}, {"text": {}},
                                     {"msgtype": "mixed", "mixed": {"msg_item": "x"}}])
def test_a_malformed_message_is_a_json_error(message: dict[str, object]) -> None:
    with pytest.raises(JsonError):
        _parse(message)


def test_empty_receive_id_round_trips_with_an_independent_implementation() -> None:
    ours = MessageCrypto("jianfu-bot", KEY, "", empty_receive_id=True)
    theirs = BasePrpCrypto(RAW_KEY)
    payload = json.dumps(DOC_TEXT, ensure_ascii=False)
    encrypted = theirs._encrypt(payload, "").decode()
    signature = build_signature("jianfu-bot", "1765000000", "n1", encrypted)
    assert ours.decrypt_signed(encrypted, msg_signature=signature, timestamp="1765000000", nonce="n1",
                               now=1765000000, window_s=300).decode() == payload
    reply = json.loads(ours.encrypt_json_reply(build_stream_reply("s1", "已登记", finish=True),
                                               timestamp="1765000000", nonce="n2"))
    assert reply["msgsignature"] == build_signature("jianfu-bot", "1765000000", "n2", reply["encrypt"])
    assert json.loads(theirs._decrypt(reply["encrypt"], "")) == {
        "msgtype": "stream", "stream": {"id": "s1", "finish": True, "content": "已登记"}}
    with pytest.raises(ValueError, match="receive id"):
        MessageCrypto("jianfu-bot", KEY, "")  # an app (not the bot) must name its receive id


def test_media_decrypts_what_wecom_encrypts_and_refuses_what_it_did_not() -> None:
    ours = MessageCrypto("jianfu-bot", KEY, "", empty_receive_id=True)
    original = "【区民政局】通知".encode() * 37
    encrypted = bytes(WeChatCipher(RAW_KEY).encrypt(PKCS7Encoder.encode(original)))
    assert ours.decrypt_media(encrypted) == original
    assert ours.encrypt_media(original) == encrypted  # IV = key[:16], padding to 32 bytes, no framing
    with pytest.raises(DecryptError):
        ours.decrypt_media(encrypted[:-5])
    other = MessageCrypto("jianfu-bot", "Bot0wvutsrqponmlkjihgfedcba9876543210ABCDEF", "x")
    with pytest.raises(DecryptError):
        ours.decrypt_media(other.encrypt_media(original))  # another bot's key: the padding does not check out
