"""Originals are kept under their SHA-256, written whole or not at all, never under a sender's name."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from intake.media import MediaLimits, extract, original_path, store_original
from tests.intake.media.samples import make_docx


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_same_file_sent_twice_is_one_original_at_its_hash(tmp_path: Path, limits: MediaLimits) -> None:
    data = make_docx()
    digest = extract(data, filename="../../etc/通知.docx", limits=limits, ocr=None).sha256
    first = store_original(data, media_dir=tmp_path, sha256=digest)
    second = store_original(data, media_dir=tmp_path, sha256=hashlib.sha256(data).hexdigest())
    assert first == second == tmp_path / digest[:2] / digest
    assert first.read_bytes() == data
    assert files_under(tmp_path) == [first]


def test_digest_that_does_not_match_the_bytes_stores_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not match"):
        store_original(b"notice", media_dir=tmp_path, sha256=hashlib.sha256(b"other").hexdigest())
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("digest", ["../" + "a" * 61, "A" * 64, "a" * 63, "", "a" * 63 + "/"])
def test_only_a_hex_digest_can_name_a_path(tmp_path: Path, digest: str) -> None:
    with pytest.raises(ValueError):
        original_path(tmp_path, digest)


def test_write_that_fails_midway_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"x" * 10_000
    digest = hashlib.sha256(data).hexdigest()

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        store_original(data, media_dir=tmp_path, sha256=digest)
    assert files_under(tmp_path) == []


def test_torn_file_from_an_older_crash_is_replaced(tmp_path: Path) -> None:
    data = b"y" * 5000
    digest = hashlib.sha256(data).hexdigest()
    torn = original_path(tmp_path, digest)
    torn.parent.mkdir(parents=True)
    torn.write_bytes(data[:100])
    assert store_original(data, media_dir=tmp_path, sha256=digest).read_bytes() == data
    assert files_under(tmp_path) == [torn]
