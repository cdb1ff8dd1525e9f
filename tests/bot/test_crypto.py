"""bot.wire.crypto: signatures, AES framing, WeCom's published vectors, wechatpy as an independent peer."""

from __future__ import annotations

import base64
import struct

import pytest

# wechatpy is the independent peer; it is test-only and never imported by bot/.
import wechatpy.crypto as wechatpy_crypto  # noqa: E402
import wechatpy.crypto.base as wechatpy_base  # noqa: E402
import wechatpy.enterprise.crypto as wechatpy_enterprise_crypto  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml.ElementTree import fromstring

from bot.wire.crypto import MessageCrypto, build_signature, check_signature
from bot.wire.errors import DecryptError, SignatureError, StaleTimestampError, WireError, XmlError

# WeCom's published sample (WXBizMsgCrypt sample code of every language).
VECTOR_TOKEN = "QDG6eK"
VECTOR_CORP_ID = "wx5823bf96d3bd56c7"
VECTOR_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
ECHO_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
ECHO_TIMESTAMP = "1409659589"
ECHO_NONCE = "263014780"
ECHO_STR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
ECHO_PLAIN = "1616140317555161061"
POST_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
POST_TIMESTAMP = "1409659813"
POST_NONCE = "1372623149"
POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUp"
    "j911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue"
    "06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+"
    "3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH"
    "27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8"
    "R07+qN+E7Q=="
)
POST_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
    f"<Encrypt><![CDATA[{POST_ENCRYPT}]]></Encrypt>\n"
    "<AgentID><![CDATA[218]]></AgentID>\n</xml>"
).encode()

# Our Official Account test account.
TOKEN = "jianfu-token"
APP_ID = "wx0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
RANDOM16 = b"0123456789abcdef"
NOW = 1_700_000_000
TS = str(NOW)
NONCE = "424242"
WINDOW = 300

INNER_XML = (
    "<xml><ToUserName><![CDATA[gh_jianfu]]></ToUserName><FromUserName><![CDATA[o_clerk]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[请各社区周五前报送台账]]></Content><MsgId>1234567890123456</MsgId></xml>"
)


@pytest.fixture
def oa() -> MessageCrypto:
    return MessageCrypto(TOKEN, AES_KEY, APP_ID)


@pytest.fixture
def wecom() -> MessageCrypto:
    return MessageCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_CORP_ID)


@pytest.fixture
def fixed_wechatpy_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make wechatpy's random prefix our RANDOM16 so ciphertexts compare byte for byte."""
    monkeypatch.setattr(wechatpy_base.BasePrpCrypto, "get_random_string", lambda self: RANDOM16.decode())


def envelope(encrypt: str) -> bytes:
    return f"<xml><ToUserName><![CDATA[gh_jianfu]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()


def signed(encrypt: str) -> dict[str, str]:
    return {"msg_signature": build_signature(TOKEN, TS, NONCE, encrypt), "timestamp": TS, "nonce": NONCE}


def raw_aes(plain: bytes, key_text: str = AES_KEY) -> str:
    """AES-CBC of already framed and padded bytes, to forge malformed plaintexts."""
    key = base64.b64decode(key_text + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def frame(xml: bytes, receive_id: bytes = APP_ID.encode(), *, length: int | None = None) -> bytes:
    body = RANDOM16 + struct.pack(">I", len(xml) if length is None else length) + xml + receive_id
    pad = 32 - len(body) % 32
    return body + bytes([pad]) * pad


# ------------------------------------------------------------------ signatures


def test_build_signature_is_sha1_of_sorted_concatenation() -> None:
    # sorted: "1409659589" < "263014780" < "QDG6eK"
    import hashlib

    expected = hashlib.sha1(b"1409659589263014780QDG6eK").hexdigest()
    assert build_signature("QDG6eK", "1409659589", "263014780") == expected


def test_build_signature_matches_wecom_published_msg_signatures() -> None:
    assert build_signature(VECTOR_TOKEN, ECHO_TIMESTAMP, ECHO_NONCE, ECHO_STR) == ECHO_SIGNATURE
    assert build_signature(VECTOR_TOKEN, POST_TIMESTAMP, POST_NONCE, POST_ENCRYPT) == POST_SIGNATURE


def test_build_signature_matches_wechatpy_plain_check() -> None:
    from wechatpy.utils import check_signature as wechatpy_check

    signature = build_signature(TOKEN, TS, NONCE)
    wechatpy_check(TOKEN, signature, TS, NONCE)  # raises if it disagrees


def test_check_signature_accepts_a_fresh_genuine_signature() -> None:
    signature = build_signature(TOKEN, TS, NONCE)
    check_signature(signature, TOKEN, TS, NONCE, now=NOW + WINDOW, window_s=WINDOW)
    check_signature(signature, TOKEN, TS, NONCE, now=NOW - WINDOW, window_s=WINDOW)


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_is_signature_error(signature: str | None) -> None:
    with pytest.raises(SignatureError) as info:
        check_signature(signature, TOKEN, TS, NONCE, now=NOW, window_s=WINDOW)
    assert type(info.value) is SignatureError


@pytest.mark.parametrize(
    "signature",
    [
        "0" * 40,
        build_signature("another-token", TS, NONCE),
        build_signature(TOKEN, TS, NONCE).upper(),
        build_signature(TOKEN, TS, NONCE)[:-1],
        "签名" * 20,
        "\udcff" * 3,
    ],
)
def test_forged_signature_is_signature_error(signature: str) -> None:
    with pytest.raises(SignatureError) as info:
        check_signature(signature, TOKEN, TS, NONCE, now=NOW, window_s=WINDOW)
    assert type(info.value) is SignatureError


@pytest.mark.parametrize("missing", ["timestamp", "nonce"])
def test_missing_timestamp_or_nonce_is_signature_error(missing: str) -> None:
    args = {"timestamp": TS, "nonce": NONCE, missing: None}
    with pytest.raises(SignatureError):
        check_signature("0" * 40, TOKEN, args["timestamp"], args["nonce"], now=NOW, window_s=WINDOW)


def test_signature_over_extra_value_must_cover_it() -> None:
    signature = build_signature(TOKEN, TS, NONCE, "payload")
    check_signature(signature, TOKEN, TS, NONCE, "payload", now=NOW, window_s=WINDOW)
    with pytest.raises(SignatureError):
        check_signature(signature, TOKEN, TS, NONCE, "payload2", now=NOW, window_s=WINDOW)


@pytest.mark.parametrize("offset", [WINDOW + 1, -(WINDOW + 1), 86_400 * 365])
def test_stale_or_future_timestamp_is_stale_timestamp_error(offset: int) -> None:
    signature = build_signature(TOKEN, TS, NONCE)
    with pytest.raises(StaleTimestampError, match="window"):
        check_signature(signature, TOKEN, TS, NONCE, now=NOW + offset, window_s=WINDOW)


@pytest.mark.parametrize(
    "timestamp", ["abc", "", "1.5", "-1700000000", " 1700000000", "١٧٠٠٠٠٠٠٠٠", "9" * 5000]
)
def test_non_numeric_timestamp_is_stale_timestamp_error(timestamp: str) -> None:
    signature = build_signature(TOKEN, timestamp, NONCE)  # genuinely signed, still refused
    with pytest.raises(StaleTimestampError):
        check_signature(signature, TOKEN, timestamp, NONCE, now=NOW, window_s=WINDOW)


def test_forged_signature_wins_over_stale_timestamp() -> None:
    """A stale-timestamp error must mean a genuine (replayed) request; forgeries say so."""
    with pytest.raises(SignatureError) as info:
        check_signature("0" * 40, TOKEN, "1", NONCE, now=NOW, window_s=WINDOW)
    assert type(info.value) is SignatureError


def test_stale_timestamp_error_is_a_403_signature_error() -> None:
    assert issubclass(StaleTimestampError, SignatureError)
    assert StaleTimestampError.http_status == SignatureError.http_status == 403
    assert XmlError.http_status == DecryptError.http_status == 400


# ------------------------------------------------------------------ key validation


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (AES_KEY[:-1], "43 characters, got 42"),
        (AES_KEY + "A", "43 characters, got 44"),
        ("", "43 characters, got 0"),
        (AES_KEY[:-1] + "!", "base64"),
        (AES_KEY[:-1] + "=", "base64"),
        (AES_KEY[:-1] + "密", "base64"),
    ],
)
def test_bad_encoding_aes_key_is_value_error_naming_it(key: str, problem: str) -> None:
    with pytest.raises(ValueError, match="EncodingAESKey") as info:
        MessageCrypto(TOKEN, key, APP_ID)
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("token", "receive_id"), [("", APP_ID), (TOKEN, "")])
def test_empty_token_or_receive_id_is_value_error(token: str, receive_id: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        MessageCrypto(token, AES_KEY, receive_id)


def test_repr_shows_no_secret(oa: MessageCrypto) -> None:
    assert AES_KEY not in repr(oa) and TOKEN not in repr(oa)
    assert APP_ID in repr(oa)


def test_random16_must_be_16_bytes(oa: MessageCrypto) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        oa.encrypt(b"<xml/>", random16=b"short")


# ------------------------------------------------------------------ WeCom published vectors


def test_wecom_url_verification_vector_decrypts(wecom: MessageCrypto) -> None:
    plain = wecom.decrypt_echo(
        ECHO_SIGNATURE, ECHO_TIMESTAMP, ECHO_NONCE, ECHO_STR, now=int(ECHO_TIMESTAMP), window_s=WINDOW
    )
    assert plain == ECHO_PLAIN


def test_wecom_url_verification_vector_agrees_with_wechatpy(wecom: MessageCrypto) -> None:
    peer = wechatpy_enterprise_crypto.WeChatCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_CORP_ID)
    assert peer.check_signature(ECHO_SIGNATURE, ECHO_TIMESTAMP, ECHO_NONCE, ECHO_STR) == ECHO_PLAIN


def test_wecom_url_verification_vector_is_stale_today(wecom: MessageCrypto) -> None:
    with pytest.raises(StaleTimestampError):
        wecom.decrypt_echo(ECHO_SIGNATURE, ECHO_TIMESTAMP, ECHO_NONCE, ECHO_STR, now=NOW, window_s=WINDOW)


def test_wecom_echo_with_plus_turned_into_space_is_refused(wecom: MessageCrypto) -> None:
    """A query parser that decodes '+' as a space breaks the echostr; that must be a 403, not a crash."""
    with pytest.raises(SignatureError):
        wecom.decrypt_echo(
            ECHO_SIGNATURE,
            ECHO_TIMESTAMP,
            ECHO_NONCE,
            ECHO_STR.replace("+", " "),
            now=int(ECHO_TIMESTAMP),
            window_s=WINDOW,
        )


def test_wecom_echo_missing_is_signature_error(wecom: MessageCrypto) -> None:
    with pytest.raises(SignatureError):
        wecom.decrypt_echo(ECHO_SIGNATURE, ECHO_TIMESTAMP, ECHO_NONCE, None, now=0, window_s=WINDOW)


def test_wecom_message_vector_decrypts_to_published_text(wecom: MessageCrypto) -> None:
    from bot.wire.messages import TextMessage, parse_message

    xml = wecom.decrypt_message(
        POST_BODY,
        msg_signature=POST_SIGNATURE,
        timestamp=POST_TIMESTAMP,
        nonce=POST_NONCE,
        now=int(POST_TIMESTAMP),
        window_s=WINDOW,
    )
    message = parse_message(xml)
    assert isinstance(message, TextMessage)
    assert (message.from_user, message.to_user, message.content) == ("mycreate", VECTOR_CORP_ID, "hello")
    assert (message.msg_id, message.agent_id, message.create_time) == (
        "4561255354251345929",
        "218",
        1409659813,
    )


def test_wecom_message_vector_agrees_with_wechatpy(wecom: MessageCrypto) -> None:
    peer = wechatpy_enterprise_crypto.WeChatCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_CORP_ID)
    theirs = peer.decrypt_message(POST_BODY.decode(), POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE)
    assert wecom.decrypt(POST_ENCRYPT).decode() == theirs


def test_wecom_vector_with_another_corp_id_is_decrypt_error() -> None:
    other = MessageCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, "ww0000000000000000")
    with pytest.raises(DecryptError, match="receive id"):
        other.decrypt_echo(
            ECHO_SIGNATURE, ECHO_TIMESTAMP, ECHO_NONCE, ECHO_STR, now=1409659589, window_s=WINDOW
        )


# ------------------------------------------------------------------ byte-exact framing


def test_encrypt_is_deterministic_with_injected_random(oa: MessageCrypto) -> None:
    one = oa.encrypt(INNER_XML.encode(), random16=RANDOM16)
    assert one == oa.encrypt(INNER_XML.encode(), random16=RANDOM16)
    assert one != oa.encrypt(INNER_XML.encode(), random16=b"fedcba9876543210")
    assert oa.encrypt(INNER_XML.encode()) != oa.encrypt(INNER_XML.encode())  # random by default


def test_encrypt_frames_pads_to_32_and_uses_iv_key_prefix(oa: MessageCrypto) -> None:
    xml = INNER_XML.encode()
    assert oa.encrypt(xml, random16=RANDOM16) == raw_aes(frame(xml))
    assert len(base64.b64decode(oa.encrypt(xml, random16=RANDOM16))) % 32 == 0


@pytest.mark.parametrize("size", [0, 1, 25, 26, 27, 58])
def test_full_padding_block_when_frame_is_a_multiple_of_32(oa: MessageCrypto, size: int) -> None:
    # 16 + 4 + size + 18 (APP_ID) is a multiple of 32 for sizes 26 and 58: a whole block of padding
    xml = b"x" * size
    ciphertext = oa.encrypt(xml, random16=RANDOM16)
    assert ciphertext == raw_aes(frame(xml))
    assert oa.decrypt(ciphertext) == xml


def test_byte_exact_with_wechatpy_official_account(oa: MessageCrypto, fixed_wechatpy_random: None) -> None:
    peer = wechatpy_crypto.WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    theirs = fromstring(peer.encrypt_message(INNER_XML, NONCE, TS))
    ours = fromstring(oa.encrypt_reply(INNER_XML, timestamp=TS, nonce=NONCE, random16=RANDOM16))
    for tag in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce"):
        assert ours.findtext(tag) == theirs.findtext(tag), tag


def test_byte_exact_with_wechatpy_wecom(wecom: MessageCrypto, fixed_wechatpy_random: None) -> None:
    peer = wechatpy_enterprise_crypto.WeChatCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_CORP_ID)
    theirs = fromstring(peer.encrypt_message(INNER_XML, NONCE, TS))
    ours = fromstring(wecom.encrypt_reply(INNER_XML, timestamp=TS, nonce=NONCE, random16=RANDOM16))
    for tag in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce"):
        assert ours.findtext(tag) == theirs.findtext(tag), tag


# ------------------------------------------------------------------ round trips with wechatpy


@pytest.mark.parametrize(
    ("receive_id", "peer_class"),
    [(APP_ID, "official_account"), ("ww1234567890abcdef", "wecom")],
)
def test_our_reply_decrypts_in_wechatpy(receive_id: str, peer_class: str) -> None:
    ours = MessageCrypto(TOKEN, AES_KEY, receive_id)
    module = wechatpy_crypto if peer_class == "official_account" else wechatpy_enterprise_crypto
    peer = module.WeChatCrypto(TOKEN, AES_KEY, receive_id)
    envelope_xml = ours.encrypt_reply(INNER_XML, timestamp=TS, nonce=NONCE)
    signature = fromstring(envelope_xml).findtext("MsgSignature")
    assert peer.decrypt_message(envelope_xml, signature, TS, NONCE) == INNER_XML


@pytest.mark.parametrize(
    ("receive_id", "peer_class"),
    [(APP_ID, "official_account"), ("ww1234567890abcdef", "wecom")],
)
def test_wechatpy_message_decrypts_with_us(receive_id: str, peer_class: str) -> None:
    ours = MessageCrypto(TOKEN, AES_KEY, receive_id)
    module = wechatpy_crypto if peer_class == "official_account" else wechatpy_enterprise_crypto
    peer = module.WeChatCrypto(TOKEN, AES_KEY, receive_id)
    body = peer.encrypt_message(INNER_XML, NONCE, TS)
    signature = fromstring(body).findtext("MsgSignature")
    xml = ours.decrypt_message(
        body.encode(), msg_signature=signature, timestamp=TS, nonce=NONCE, now=NOW, window_s=WINDOW
    )
    assert xml.decode() == INNER_XML


def test_encrypt_reply_envelope_round_trips_through_decrypt_message(oa: MessageCrypto) -> None:
    envelope_xml = oa.encrypt_reply("<xml>]]>&<中文>😀</xml>", timestamp=TS, nonce=NONCE, random16=RANDOM16)
    root = fromstring(envelope_xml)
    assert [child.tag for child in root] == ["Encrypt", "MsgSignature", "TimeStamp", "Nonce"]
    assert root.findtext("TimeStamp") == TS and root.findtext("Nonce") == NONCE
    xml = oa.decrypt_message(
        envelope_xml.encode(),
        msg_signature=root.findtext("MsgSignature"),
        timestamp=TS,
        nonce=NONCE,
        now=NOW,
        window_s=WINDOW,
    )
    assert xml.decode() == "<xml>]]>&<中文>😀</xml>"


def test_decrypt_message_reads_wecom_envelope_with_agent_id(oa: MessageCrypto) -> None:
    encrypt = oa.encrypt(INNER_XML.encode())
    body = f"<xml><ToUserName>ww1</ToUserName><Encrypt>{encrypt}</Encrypt><AgentID>1000002</AgentID></xml>"
    assert (
        oa.decrypt_message(body.encode(), **signed(encrypt), now=NOW, window_s=WINDOW) == INNER_XML.encode()
    )


# ------------------------------------------------------------------ every bad input


def _decrypt_signed(crypto: MessageCrypto, encrypt: str) -> bytes:
    return crypto.decrypt_message(envelope(encrypt), **signed(encrypt), now=NOW, window_s=WINDOW)


def test_decrypt_message_with_forged_signature_is_signature_error(oa: MessageCrypto) -> None:
    encrypt = oa.encrypt(INNER_XML.encode())
    with pytest.raises(SignatureError) as info:
        oa.decrypt_message(
            envelope(encrypt), msg_signature="f" * 40, timestamp=TS, nonce=NONCE, now=NOW, window_s=WINDOW
        )
    assert type(info.value) is SignatureError


def test_decrypt_message_with_missing_signature_is_signature_error(oa: MessageCrypto) -> None:
    encrypt = oa.encrypt(INNER_XML.encode())
    with pytest.raises(SignatureError):
        oa.decrypt_message(
            envelope(encrypt), msg_signature=None, timestamp=TS, nonce=NONCE, now=NOW, window_s=WINDOW
        )


def test_decrypt_message_signed_with_plain_signature_is_refused(oa: MessageCrypto) -> None:
    """The plain URL signature does not cover Encrypt, so it must not pass as msg_signature."""
    encrypt = oa.encrypt(INNER_XML.encode())
    with pytest.raises(SignatureError):
        oa.decrypt_message(
            envelope(encrypt),
            msg_signature=build_signature(TOKEN, TS, NONCE),
            timestamp=TS,
            nonce=NONCE,
            now=NOW,
            window_s=WINDOW,
        )


def test_decrypt_message_with_stale_timestamp_is_stale_timestamp_error(oa: MessageCrypto) -> None:
    encrypt = oa.encrypt(INNER_XML.encode())
    with pytest.raises(StaleTimestampError):
        oa.decrypt_message(envelope(encrypt), **signed(encrypt), now=NOW + 3600, window_s=WINDOW)


def test_forged_signature_is_checked_before_decrypting(oa: MessageCrypto) -> None:
    with pytest.raises(SignatureError):
        oa.decrypt_message(
            envelope("!!not base64!!"),
            msg_signature="0" * 40,
            timestamp=TS,
            nonce=NONCE,
            now=NOW,
            window_s=WINDOW,
        )


@pytest.mark.parametrize("encrypt", ["!!not base64!!", "abc", "YWJj\nZA==", "密文", "", "A" * 43])
def test_bad_base64_is_decrypt_error(oa: MessageCrypto, encrypt: str) -> None:
    with pytest.raises(DecryptError):
        _decrypt_signed(oa, encrypt)


@pytest.mark.parametrize(
    "plain",
    [
        frame(b"<xml/>")[:-1] + b"\x00",  # padding byte 0
        frame(b"<xml/>")[:-1] + b"\x21",  # padding byte 33
        frame(b"<xml/>")[:-2] + b"\x05\x02",  # padding bytes disagree
        b"\x20" * 32 + b"\x40" * 32,  # padding 64
    ],
)
def test_wrong_padding_is_decrypt_error(oa: MessageCrypto, plain: bytes) -> None:
    with pytest.raises(DecryptError, match="padding"):
        _decrypt_signed(oa, raw_aes(plain))


def test_wrong_app_id_is_decrypt_error(oa: MessageCrypto) -> None:
    encrypt = MessageCrypto(TOKEN, AES_KEY, "wxffffffffffffffff").encrypt(INNER_XML.encode())
    with pytest.raises(DecryptError, match="AppID / CorpID"):
        _decrypt_signed(oa, encrypt)


def test_wrong_corp_id_is_decrypt_error(wecom: MessageCrypto) -> None:
    other = MessageCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_CORP_ID + "x").encrypt(INNER_XML.encode())
    with pytest.raises(DecryptError):
        wecom.decrypt(other)


def test_wrong_aes_key_is_decrypt_error(oa: MessageCrypto) -> None:
    encrypt = MessageCrypto(TOKEN, VECTOR_AES_KEY, APP_ID).encrypt(INNER_XML.encode() * 3)
    with pytest.raises(DecryptError):
        _decrypt_signed(oa, encrypt)


@pytest.mark.parametrize("keep", [0, 16, 32, 48, 100])
def test_truncated_ciphertext_is_decrypt_error(oa: MessageCrypto, keep: int) -> None:
    ciphertext = base64.b64decode(oa.encrypt(INNER_XML.encode(), random16=RANDOM16))
    with pytest.raises(DecryptError):
        _decrypt_signed(oa, base64.b64encode(ciphertext[:keep]).decode())


@pytest.mark.parametrize("length", [10_000, 2**32 - 1])
def test_length_field_beyond_payload_is_decrypt_error(oa: MessageCrypto, length: int) -> None:
    with pytest.raises(DecryptError, match="length"):
        _decrypt_signed(oa, raw_aes(frame(b"<xml/>", length=length)))


def test_payload_too_short_for_length_field_is_decrypt_error(oa: MessageCrypto) -> None:
    with pytest.raises(DecryptError, match="too short"):
        _decrypt_signed(oa, raw_aes(RANDOM16 + b"\x01\x02" + b"\x0e" * 14))


def test_echo_that_is_not_utf8_is_decrypt_error(oa: MessageCrypto) -> None:
    echostr = oa.encrypt(b"\xff\xfe")
    signature = build_signature(TOKEN, TS, NONCE, echostr)
    with pytest.raises(DecryptError, match="UTF-8"):
        oa.decrypt_echo(signature, TS, NONCE, echostr, now=NOW, window_s=WINDOW)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<xml><ToUserName>gh</ToUserName></xml>",  # no Encrypt
        b"<notxml><Encrypt>abc</Encrypt></notxml>",
        b'<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
        b"<xml><Encrypt>\xff\xfe</Encrypt></xml>",
    ],
)
def test_bad_envelope_is_xml_error(oa: MessageCrypto, body: bytes) -> None:
    with pytest.raises(XmlError):
        oa.decrypt_message(body, msg_signature="0" * 40, timestamp=TS, nonce=NONCE, now=NOW, window_s=WINDOW)


def test_every_error_is_one_line_and_a_wire_error(oa: MessageCrypto) -> None:
    failures: list[WireError] = []
    for call in (
        lambda: check_signature(None, TOKEN, TS, NONCE, now=NOW, window_s=WINDOW),
        lambda: check_signature(
            build_signature(TOKEN, "1", NONCE), TOKEN, "1", NONCE, now=NOW, window_s=WINDOW
        ),
        lambda: _decrypt_signed(oa, "@@"),
        lambda: _decrypt_signed(oa, raw_aes(frame(b"<xml/>", b"wrong"))),
        lambda: oa.decrypt_message(
            b"<a/>", msg_signature="x", timestamp=TS, nonce=NONCE, now=NOW, window_s=WINDOW
        ),
    ):
        with pytest.raises(WireError) as info:
            call()
        failures.append(info.value)
    for failure in failures:
        assert str(failure) and "\n" not in str(failure)
