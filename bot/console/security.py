"""Signed session cookies and CSRF tokens, on ``hmac`` alone.

The cookie holds ``base64url(json).signature`` where the signature is HMAC-SHA256
over the payload with a key derived from ``[server] session_secret``. The payload
carries the user id, the CSRF token, the issue time, a one-shot flash message and
a fingerprint of the password hash it logged in with; it is never trusted without
a valid signature, and it expires after ``SESSION_HOURS``. The user's role, active
flag and password hash are re-read from the database on every request, so
deactivating a user or resetting their password ends their sessions at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Session", "SessionCodec", "SESSION_COOKIE", "SESSION_HOURS", "CSRF_FIELD", "is_same_token"]

SESSION_COOKIE = "jianfu_console"
SESSION_HOURS = 12
CSRF_FIELD = "csrf_token"


@dataclass
class Session:
    user_id: int | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    issued: int = field(default_factory=lambda: int(time.time()))
    flash: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    credential: str = ""  # SessionCodec.credential_of(the password hash at login)
    changed: bool = False

    def add_flash(self, level: str, text: str) -> None:
        self.flash.append((level, text[:400]))
        self.changed = True

    def pop_flash(self) -> list[tuple[str, str]]:
        items, self.flash = self.flash, []
        if items:
            self.changed = True
        return items

    def login(self, user_id: int, credential: str) -> None:
        """A new session on login: a fresh CSRF token and issue time (no fixation of the old one)."""
        self.user_id = user_id
        self.credential = credential
        self.csrf = secrets.token_urlsafe(24)
        self.issued = int(time.time())
        self.changed = True

    def logout(self) -> None:
        self.user_id = None
        self.credential = ""
        self.csrf = secrets.token_urlsafe(24)
        self.issued = int(time.time())
        self.changed = True


class SessionCodec:
    def __init__(self, secret: str, *, max_age_s: int = SESSION_HOURS * 3600) -> None:
        self._key = hmac.new(secret.encode("utf-8"), b"jianfu-console-session-v1", hashlib.sha256).digest()
        self.max_age_s = max_age_s

    def _sign(self, payload: bytes) -> str:
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def credential_of(self, password_hash: str) -> str:
        """A keyed fingerprint of a password hash: it changes when the password is reset."""
        mac = hmac.new(self._key, b"credential:" + password_hash.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:12]).decode("ascii")

    def dumps(self, session: Session) -> str:
        data = {"u": session.user_id, "c": session.csrf, "i": session.issued, "f": session.flash,
                "p": session.credential}
        raw = json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")
        payload = base64.urlsafe_b64encode(raw).rstrip(b"=")
        return payload.decode("ascii") + "." + self._sign(payload)

    def loads(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session in a cookie, or None when it is missing, forged, malformed or expired."""
        if not value or value.count(".") != 1 or len(value) > 4000:
            return None
        payload, signature = value.split(".")
        if not hmac.compare_digest(self._sign(payload.encode("ascii", "replace")), signature):
            return None
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            data: dict[str, Any] = json.loads(raw)
            user_id = data["u"]
            csrf = str(data["c"])
            issued = int(data["i"])
            flash = [(str(level), str(text)) for level, text in data.get("f", [])]
            credential = str(data.get("p", ""))
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        now = time.time() if now is None else now
        if issued + self.max_age_s < now or issued > now + 300:
            return None
        if user_id is not None and not isinstance(user_id, int):
            return None
        return Session(user_id=user_id, csrf=csrf, issued=issued, flash=flash, credential=credential)


def is_same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode("utf-8"), str(given).encode("utf-8"))
