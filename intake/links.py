"""Signed, expiring links: a community head opens their own monthly digest without a console login, and a
clerk or head opens the upload page they asked for in chat.

A digest link names the community and the month and carries its expiry and an HMAC-SHA256 over the three,
keyed by a secret derived from ``[server] session_secret``; it opens that one digest and nothing else. An
upload link names its ticket's nonce (single use is the ticket's, :mod:`intake.uploads`); its signature is
over a different prefix, so neither kind of link can pass for the other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote

__all__ = ["derive_link_secret", "sign_digest", "build_digest_link", "is_valid_digest_link", "build_upload_link",
           "is_valid_upload_link"]


def derive_link_secret(session_secret: str) -> str:
    return hmac.new(session_secret.encode(), b"jianfu digest links", hashlib.sha256).hexdigest()


def sign_digest(secret: str, *, community: str, month: str, expires: int) -> str:
    message = f"{community}|{month}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def build_digest_link(public_url: str, secret: str, *, community: str, month: str, expires_at: dt.datetime) -> str:
    expires = int(expires_at.timestamp())
    signature = sign_digest(secret, community=community, month=month, expires=expires)
    return f"{public_url.rstrip('/')}/digest/{quote(community)}/{month}?e={expires}&s={signature}"


def is_valid_digest_link(secret: str, *, community: str, month: str, expires: str, signature: str,
                         now: dt.datetime) -> bool:
    """The signature matches (compared in constant time) and the link has not expired."""
    if not expires.isdigit() or not secret:
        return False
    expected = sign_digest(secret, community=community, month=month, expires=int(expires))
    return hmac.compare_digest(expected, signature) and int(expires) > now.timestamp()


def _sign_upload(secret: str, *, nonce: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"upload|{nonce}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def build_upload_link(public_url: str, secret: str, *, nonce: str, expires_at: dt.datetime) -> str:
    expires = int(expires_at.timestamp())
    signature = _sign_upload(secret, nonce=nonce, expires=expires)
    return f"{public_url.rstrip('/')}/upload/{nonce}?e={expires}&s={signature}"


def is_valid_upload_link(secret: str, *, nonce: str, expires: str, signature: str, now: dt.datetime) -> bool:
    """The signature matches (constant time) and the link has not expired; whether it was used is the ticket's."""
    if not expires.isdigit() or not secret or len(expires) > 12:
        return False
    expected = _sign_upload(secret, nonce=nonce, expires=int(expires))
    return hmac.compare_digest(expected, signature) and int(expires) > now.timestamp()
