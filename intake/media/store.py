"""Originals kept on disk, addressed by their SHA-256: ``<media_dir>/<ab>/<abcdef…64 hex>``.

The same bytes sent twice land on the same path (a resend is recognised by its hash). A file is
written to a temporary name in its final folder, flushed and renamed, so a reader never sees half of
one; no part of the sender's file name reaches the path. Whether an original goes here or into the
database is the caller's choice."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["store_original", "original_path"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def original_path(media_dir: Path, sha256: str) -> Path:
    """Where the original with this digest lives (whether or not it is there)."""
    if not _HEX64.fullmatch(sha256):
        raise ValueError("sha256 must be 64 lower-case hex digits")
    return media_dir / sha256[:2] / sha256


def store_original(data: bytes, *, media_dir: Path, sha256: str) -> Path:
    """Write ``data`` under its digest (checked against the bytes) and return the path. A file already
    there with the same size is the same original: it is kept and its path returned."""
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("sha256 does not match the data")
    path = original_path(media_dir, sha256)
    if path.is_file() and path.stat().st_size == len(data):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".incoming-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path
