"""Property tests for bot.wire.crypto: round trips hold for any text, bad input raises only WireError."""

from __future__ import annotations

import base64
import contextlib

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.wire.crypto import MessageCrypto, build_signature, check_signature
from bot.wire.errors import DecryptError, SignatureError, WireError
from bot.wire.messages import TextMessage, parse_message
from bot.wire.replies import build_text_reply

TOKEN = "jianfu-token"
APP_ID = "wx0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
NOW = 1_700_000_000
TS = str(NOW)
NONCE = "424242"
WINDOW = 300

CRYPTO = MessageCrypto(TOKEN, AES_KEY, APP_ID)
VALID = CRYPTO.encrypt(
    "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>报送</Content><MsgId>1</MsgId></xml>".encode(),
    random16=b"0123456789abcdef",
)
VALID_BYTES = base64.b64decode(VALID)

# Text that XML 1.0 can carry (what WeChat can send or receive at all).
XML_TEXT = st.text(
    st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + ["\ufffe", "\uffff"],
    )
)
SPICY = st.sampled_from(["]]>", "<script>", "&amp;", "中文", "😀", "\r\n", "</Content>", "&#0;"])
CONTENT = st.lists(st.one_of(XML_TEXT, SPICY)).map("".join)

KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def envelope(encrypt: str) -> bytes:
    return f"<xml><ToUserName>gh</ToUserName><Encrypt>{encrypt}</Encrypt></xml>".encode()


@given(
    plaintext=st.binary(max_size=2048),
    random16=st.binary(min_size=16, max_size=16),
    receive_id=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40),
    key=st.text(KEY_CHARS, min_size=43, max_size=43),
)
def test_encrypt_then_decrypt_returns_the_plaintext(
    plaintext: bytes, random16: bytes, receive_id: str, key: str
) -> None:
    crypto = MessageCrypto(TOKEN, key, receive_id)
    encrypted = crypto.encrypt(plaintext, random16=random16)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(encrypted) == plaintext


@given(content=CONTENT, random16=st.binary(min_size=16, max_size=16), nonce=st.text("0123456789", min_size=1))
def test_reply_survives_encrypt_reply_decrypt_message_and_parse(
    content: str, random16: bytes, nonce: str
) -> None:
    reply = build_text_reply(to_user="o", from_user="gh", content=content, create_time=NOW)
    envelope_xml = CRYPTO.encrypt_reply(
        reply.replace("</xml>", "<MsgId>1</MsgId></xml>"), timestamp=TS, nonce=nonce, random16=random16
    )
    from defusedxml.ElementTree import fromstring

    signature = fromstring(envelope_xml).findtext("MsgSignature")
    inner = CRYPTO.decrypt_message(
        envelope_xml.encode(), msg_signature=signature, timestamp=TS, nonce=nonce, now=NOW, window_s=WINDOW
    )
    message = parse_message(inner)
    assert isinstance(message, TextMessage) and message.content == content


@given(text=st.text())
def test_decrypt_of_any_string_raises_only_decrypt_error(text: str) -> None:
    with contextlib.suppress(DecryptError):
        CRYPTO.decrypt(text)


@given(data=st.binary(max_size=512))
def test_decrypt_of_any_base64_raises_only_decrypt_error(data: bytes) -> None:
    with contextlib.suppress(DecryptError):
        CRYPTO.decrypt(base64.b64encode(data).decode())


@st.composite
def mutated_ciphertext(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID_BYTES)
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.sampled_from(["flip", "cut", "insert", "drop"]))
        if choice == "flip":
            i = draw(st.integers(0, len(data) - 1)) if data else 0
            if data:
                data[i] ^= draw(st.integers(1, 255))
        elif choice == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif choice == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif data:
            del data[draw(st.integers(0, len(data) - 1))]
    return bytes(data)


@given(data=mutated_ciphertext())
def test_mutated_ciphertext_raises_only_decrypt_error(data: bytes) -> None:
    with contextlib.suppress(DecryptError):
        CRYPTO.decrypt(base64.b64encode(data).decode())


@given(encrypt=st.one_of(st.text(), st.binary(max_size=256).map(lambda b: base64.b64encode(b).decode())))
def test_signed_garbage_through_decrypt_message_raises_only_wire_errors(encrypt: str) -> None:
    from bot.wire.replies import build_xml

    body = build_xml([("ToUserName", "gh"), ("Encrypt", encrypt)]).encode()
    with contextlib.suppress(WireError):
        CRYPTO.decrypt_message(
            body,
            msg_signature=build_signature(TOKEN, TS, NONCE, encrypt),
            timestamp=TS,
            nonce=NONCE,
            now=NOW,
            window_s=WINDOW,
        )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(st.binary(max_size=512), st.just(envelope(VALID))),
    signature=st.one_of(st.none(), st.text(max_size=50)),
    timestamp=st.one_of(st.none(), st.text(max_size=20), st.integers(0, 2**40).map(str)),
    nonce=st.one_of(st.none(), st.text(max_size=20)),
    now=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
)
def test_decrypt_message_raises_only_wire_errors(
    body: bytes, signature: str | None, timestamp: str | None, nonce: str | None, now: float
) -> None:
    with contextlib.suppress(WireError):
        CRYPTO.decrypt_message(
            body, msg_signature=signature, timestamp=timestamp, nonce=nonce, now=now, window_s=WINDOW
        )


@given(
    signature=st.one_of(st.none(), st.text()),
    timestamp=st.one_of(st.none(), st.text()),
    nonce=st.one_of(st.none(), st.text()),
    echostr=st.one_of(st.none(), st.text()),
)
def test_decrypt_echo_raises_only_wire_errors(
    signature: str | None, timestamp: str | None, nonce: str | None, echostr: str | None
) -> None:
    with contextlib.suppress(WireError):
        CRYPTO.decrypt_echo(signature, timestamp, nonce, echostr, now=NOW, window_s=WINDOW)


@given(signature=st.one_of(st.none(), st.text()), parts=st.lists(st.text(), min_size=3, max_size=4))
def test_check_signature_raises_only_signature_errors(signature: str | None, parts: list[str]) -> None:
    with contextlib.suppress(SignatureError):
        check_signature(signature, parts[0], parts[1], parts[2], *parts[3:], now=NOW, window_s=WINDOW)


@given(parts=st.lists(st.text(), min_size=3, max_size=4))
def test_build_signature_agrees_with_wechatpy_signer(parts: list[str]) -> None:
    import wechatpy.utils as utils
    assume(all(not "\ud800" <= c <= "\udfff" for part in parts for c in part))
    signer = utils.WeChatSigner()
    signer.add_data(*parts)
    assert build_signature(*parts) == signer.signature


@given(offset=st.integers(-WINDOW, WINDOW))
def test_any_timestamp_inside_the_window_passes(offset: int) -> None:
    signature = build_signature(TOKEN, TS, NONCE)
    check_signature(signature, TOKEN, TS, NONCE, now=NOW + offset, window_s=WINDOW)
