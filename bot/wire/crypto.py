"""Signatures and message encryption of WeChat Official Accounts and WeCom apps.

Written on ``cryptography`` (AES-256-CBC); no clock and no randomness you
cannot inject, so round trips are byte-exact in tests.

* URL / plaintext signature: ``sha1(sorted(token, timestamp, nonce))``.
* Safe mode / WeCom ``msg_signature``: ``sha1(sorted(token, timestamp, nonce, Encrypt_or_echostr))``.
* Encryption: key = base64(EncodingAESKey + "="), 32 bytes; IV = key[:16];
  plaintext ``random16 + len(xml) as 4 bytes big-endian + xml + receive_id``,
  PKCS#7-padded to 32-byte blocks, sent base64-encoded.
  ``receive_id`` is the AppID (Official Account safe mode), the CorpID (WeCom app), or empty
  (the WeCom intelligent bot, 智能机器人, whose bodies are JSON ``{"encrypt": ...}``).
* Media of the intelligent bot (the ``url`` of an image or file) is the bare AES-256-CBC
  ciphertext of the file with the same key and IV, PKCS#7-padded to 32 bytes (no framing).

Signatures and the receive id are compared in constant time. Errors are the
classes of :mod:`bot.wire.errors`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.wire.errors import DecryptError, EncryptionRequiredError, SignatureError, StaleTimestampError
from bot.wire.messages import parse_envelope
from bot.wire.replies import build_xml

__all__ = ["MessageCrypto", "build_signature", "check_signature"]

_BLOCK = 32  # WeChat pads to 32 bytes, not to the AES block of 16
_KEY_CHARS = 43
_MAX_TIMESTAMP_DIGITS = 20
_KEY_ALPHABET = re.compile(r"[A-Za-z0-9+/]{43}")


def _utf8(text: str) -> bytes:
    # surrogatepass: a hostile query string must give a mismatch, not a crash
    return text.encode("utf-8", "surrogatepass")


def build_signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """SHA-1 hex digest of the sorted, concatenated strings.

    ``extra`` is the ``Encrypt`` element or ``echostr`` for a ``msg_signature``.
    """
    parts = sorted(_utf8(part) for part in (token, timestamp, nonce, *extra))
    return hashlib.sha1(b"".join(parts)).hexdigest()


def check_signature(
    signature: str | None,
    token: str,
    timestamp: str | None,
    nonce: str | None,
    *extra: str,
    now: float,
    window_s: int,
) -> None:
    """Verify a signature and the freshness of its timestamp.

    Raises :class:`SignatureError` when the signature, timestamp or nonce is
    missing or the signature does not match, and :class:`StaleTimestampError`
    when the timestamp is not an integer or ``abs(now - timestamp) > window_s``.
    The signature is checked first, so a stale timestamp means a genuine but
    old (replayed) request.
    """
    if not signature:
        raise SignatureError("signature is missing from the query string; is the callback URL right?")
    if timestamp is None or nonce is None:
        raise SignatureError("timestamp or nonce is missing from the query string")
    expected = build_signature(token, timestamp, nonce, *extra)
    if not hmac.compare_digest(_utf8(signature), expected.encode("ascii")):
        raise SignatureError(
            "signature does not match; check that the configured token equals the platform's"
        )
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        raise StaleTimestampError(f"timestamp {timestamp[:40]!r} is not Unix seconds")
    age = now - int(timestamp)
    if abs(age) > window_s:
        raise StaleTimestampError(
            f"timestamp is {age:.0f} s away from now, outside the {window_s} s window; "
            "a replay, or this server's clock is wrong"
        )


def _decode_aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != _KEY_CHARS:
        raise ValueError(
            f"EncodingAESKey must be {_KEY_CHARS} characters, got {len(encoding_aes_key)}; "
            "copy it again from the platform's server settings"
        )
    if not _KEY_ALPHABET.fullmatch(encoding_aes_key):
        raise ValueError(
            "EncodingAESKey must contain only letters and digits (base64 alphabet); copy it again"
        )
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:  # pragma: no cover - 43 base64 characters always give 32 bytes
        raise ValueError("EncodingAESKey does not decode to a 32-byte AES key")
    return key


class MessageCrypto:
    """Encrypts and decrypts callbacks of one Official Account or WeCom app.

    ``receive_id`` is the AppID for an Official Account in safe mode, the
    CorpID for a WeCom app. Raises ``ValueError`` for a malformed
    EncodingAESKey or an empty token / receive id.
    """

    __slots__ = ("_key", "_receive_id", "_token")

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str, *, empty_receive_id: bool = False) -> None:
        if not token:
            raise ValueError("token must not be empty")
        if not receive_id and not empty_receive_id:
            raise ValueError("receive id (AppID or CorpID) must not be empty")
        self._key = _decode_aes_key(encoding_aes_key)
        self._token = token
        self._receive_id = receive_id.encode("utf-8")

    def __repr__(self) -> str:
        return f"MessageCrypto(receive_id={self._receive_id.decode()!r})"

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, plaintext: bytes, *, random16: bytes | None = None) -> str:
        """Base64 ciphertext of ``plaintext`` (the XML) framed for this receive id."""
        if random16 is None:
            random16 = os.urandom(16)
        if len(random16) != 16:
            raise ValueError(f"random16 must be 16 bytes, got {len(random16)}")
        framed = random16 + struct.pack(">I", len(plaintext)) + plaintext + self._receive_id
        pad = _BLOCK - len(framed) % _BLOCK
        framed += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(framed) + encryptor.finalize()).decode("ascii")

    def _decrypt_blocks(self, ciphertext: bytes) -> bytes:
        decryptor = self._cipher().decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()

    @staticmethod
    def _unpad(plain: bytes) -> bytes:
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise DecryptError("bad PKCS#7 padding after decryption; is the EncodingAESKey right?")
        return plain[:-pad]

    def decrypt_media(self, data: bytes) -> bytes:
        """A file the intelligent bot points at (image or file ``url``): AES-256-CBC, key and IV of this
        EncodingAESKey, PKCS#7 to 32 bytes; raises :class:`DecryptError`."""
        if not data or len(data) % 16:
            raise DecryptError(f"encrypted file is {len(data)} bytes, not a whole number of AES blocks; truncated?")
        return self._unpad(self._decrypt_blocks(data))

    def encrypt_media(self, data: bytes) -> bytes:
        """The inverse of :meth:`decrypt_media` (what WeCom serves; used by tests and fakes)."""
        pad = _BLOCK - len(data) % _BLOCK
        encryptor = self._cipher().encryptor()
        return encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()

    def decrypt(self, encrypted_b64: str) -> bytes:
        """The XML inside a base64 ciphertext; raises :class:`DecryptError`."""
        try:
            ciphertext = base64.b64decode(encrypted_b64, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError("Encrypt is not valid base64; the body was altered on the way") from None
        if not ciphertext or len(ciphertext) % 16:
            raise DecryptError(
                f"ciphertext is {len(ciphertext)} bytes, not a whole number of AES blocks; truncated?"
            )
        content = self._unpad(self._decrypt_blocks(ciphertext))[16:]
        if len(content) < 4:
            raise DecryptError("decrypted payload is too short to hold the length field")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise DecryptError(
                f"decrypted length field says {length} bytes but only {len(content) - 4} follow; "
                "is the EncodingAESKey right?"
            )
        xml, receive_id = content[4 : 4 + length], content[4 + length :]
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise DecryptError(
                "message was encrypted for another receive id; check the configured AppID / CorpID"
            )
        return xml

    def decrypt_message(
        self,
        body: bytes,
        *,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        now: float,
        window_s: int,
        envelope_fields: frozenset[str] | None = None,
    ) -> bytes:
        """Verify and decrypt an encrypted callback body; returns the inner XML bytes.

        Raises :class:`XmlError` for a bad envelope, :class:`SignatureError` /
        :class:`StaleTimestampError` for the signature, :class:`DecryptError`
        for a signed payload that does not decrypt. With ``envelope_fields``, an
        envelope carrying any other element (compatible mode sends the message in
        plaintext beside ``Encrypt``) raises :class:`EncryptionRequiredError`.
        """
        envelope = parse_envelope(body)
        encrypted = envelope["Encrypt"]
        check_signature(msg_signature, self._token, timestamp, nonce, encrypted, now=now, window_s=window_s)
        if envelope_fields is not None and not envelope.keys() <= envelope_fields:
            extra = sorted(envelope.keys() - envelope_fields)
            raise EncryptionRequiredError(
                f"the body carries {', '.join(extra[:4])} in plaintext beside <Encrypt> (compatible mode); "
                "only safe mode (安全模式) is accepted: switch the account's 消息加解密方式"
            )
        return self.decrypt(encrypted)

    def encrypt_reply(self, xml: str, *, timestamp: str, nonce: str, random16: bytes | None = None) -> str:
        """The ``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`` envelope of a reply."""
        encrypted = self.encrypt(xml.encode("utf-8"), random16=random16)
        signature = build_signature(self._token, timestamp, nonce, encrypted)
        return build_xml(
            [
                ("Encrypt", encrypted),
                ("MsgSignature", signature),
                ("TimeStamp", timestamp),
                ("Nonce", nonce),
            ]
        )

    def decrypt_signed(self, encrypted: str, *, msg_signature: str | None, timestamp: str | None,
                       nonce: str | None, now: float, window_s: int) -> bytes:
        """Verify ``msg_signature`` over ``encrypted`` (the intelligent bot's JSON ``encrypt``), then decrypt it."""
        check_signature(msg_signature, self._token, timestamp, nonce, encrypted, now=now, window_s=window_s)
        return self.decrypt(encrypted)

    def encrypt_json_reply(self, payload: str, *, timestamp: str, nonce: str, random16: bytes | None = None) -> str:
        """The intelligent bot's reply envelope ``{"encrypt", "msgsignature", "timestamp", "nonce"}``."""
        encrypted = self.encrypt(payload.encode("utf-8"), random16=random16)
        signature = build_signature(self._token, timestamp, nonce, encrypted)
        return json.dumps({"encrypt": encrypted, "msgsignature": signature, "timestamp": int(timestamp),
                           "nonce": nonce})

    def decrypt_echo(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        echostr: str | None,
        *,
        now: float,
        window_s: int,
    ) -> str:
        """WeCom URL verification (GET): verify ``msg_signature`` over ``echostr``, return its plaintext.

        ``echostr`` must be the URL-decoded query value with ``+`` intact.
        """
        if echostr is None:
            raise SignatureError("echostr is missing from the verification request")
        check_signature(msg_signature, self._token, timestamp, nonce, echostr, now=now, window_s=window_s)
        plain = self.decrypt(echostr)
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptError("decrypted echostr is not UTF-8 text") from None
