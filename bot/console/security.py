"""Signed session cookies and CSRF tokens, on ``hmac`` alone.

The cookie holds ``base64url(json).signature`` where the signature is HMAC-SHA256
over the payload with a key derived from ``[server] session_secret``. The payload
carries the token of a server-side session (:mod:`intake.console_sessions`; empty
while logged out), the CSRF token, the issue time and one-shot flash messages; it is
never trusted without a valid signature. Who is logged in is decided by the session
row, not the cookie: logging out, a password change, deactivation and "end all
sessions" end the row, and a saved cookie is then worth nothing.
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
SESSION_HOURS = 12  # the cookie's own lifetime by default; [server] session_absolute_hours in the app
CSRF_FIELD = "csrf_token"


@dataclass
class Session:
    token: str = ""  # the server-side session's token; "" while logged out
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    issued: int = field(default_factory=lambda: int(time.time()))
    flash: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    changed: bool = False

    def add_flash(self, level: str, text: str) -> None:
        self.flash.append((level, text[:400]))
        self.changed = True

    def pop_flash(self) -> list[tuple[str, str]]:
        items, self.flash = self.flash, []
        if items:
            self.changed = True
        return items

    def login(self, token: str) -> None:
        """A new session on login: a fresh CSRF token and issue time (no fixation of the old one)."""
        self.token = token
        self.csrf = secrets.token_urlsafe(24)
        self.issued = int(time.time())
        self.changed = True

    def logout(self) -> None:
        self.token = ""
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

    def dumps(self, session: Session) -> str:
        data = {"t": session.token, "c": session.csrf, "i": session.issued, "f": session.flash}
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
            token = str(data["t"])
            csrf = str(data["c"])
            issued = int(data["i"])
            flash = [(str(level), str(text)) for level, text in data.get("f", [])]
        except (binascii.Error, ValueError, KeyError, TypeError):
            return None
        now = time.time() if now is None else now
        if issued + self.max_age_s < now or issued > now + 300:
            return None
        return Session(token=token, csrf=csrf, issued=issued, flash=flash)


def is_same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode("utf-8"), str(given).encode("utf-8"))
