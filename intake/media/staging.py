"""Files read on the upload page but not yet submitted: kept apart from the originals (``[media] dir``
/ ``.staging``), one per upload ticket, until the clerk submits (then stored as the task's original) or
the ticket expires (then swept). An abandoned upload never reaches the originals."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Staged", "stage_file", "load_staged", "drop_staged", "sweep_staged"]

_KEY = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Staged:
    filename: str
    source_type: str
    sha256: str
    ocr: bool
    fields: tuple[str, ...] = ()  # the form the file carries (sheet names, header row)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))  # a list when read back from JSON


def _paths(media_dir: Path, key: str) -> tuple[Path, Path]:
    if not _KEY.fullmatch(key):
        raise ValueError("a staging key is 32 hex characters")
    folder = media_dir / ".staging"
    return folder / f"{key}.bin", folder / f"{key}.json"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".part-", dir=path.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def stage_file(media_dir: Path, key: str, data: bytes, staged: Staged) -> None:
    """Keep ``data`` for ticket ``key`` (a new file replaces the one read before)."""
    data_path, meta_path = _paths(media_dir, key)
    _write(data_path, data)
    _write(meta_path, json.dumps(asdict(staged), ensure_ascii=False).encode())


def load_staged(media_dir: Path, key: str) -> tuple[bytes, Staged] | None:
    data_path, meta_path = _paths(media_dir, key)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return data_path.read_bytes(), Staged(**meta)
    except (OSError, ValueError, TypeError):
        return None


def drop_staged(media_dir: Path, key: str) -> None:
    for path in _paths(media_dir, key):
        path.unlink(missing_ok=True)


def sweep_staged(media_dir: Path, *, older_than: dt.datetime) -> int:
    """Remove staged files last written before ``older_than`` (their tickets have expired); how many."""
    folder = media_dir / ".staging"
    removed = 0
    for path in folder.glob("*") if folder.is_dir() else ():
        if dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC) < older_than:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
