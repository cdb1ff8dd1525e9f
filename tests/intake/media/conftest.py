"""Fixtures of the media tests: the Noto CJK font (Debian's fonts-noto-cjk, installed by .ci/run; without it
these tests skip on a developer's machine and fail under CI=true), one real OCR engine, default limits."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from intake.media import MediaLimits, RapidOcrEngine
from tests.conftest import IN_CI

FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
)


def find_cjk_font() -> Path | None:
    for path in FONT_CANDIDATES:
        if path.is_file():
            return path
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", "Noto Sans CJK SC:lang=zh-cn"],
                               capture_output=True, text=True).stdout.strip()
        if "CJK" in found and Path(found).is_file():
            return Path(found)
    return None


@pytest.fixture(scope="session")
def cjk_font() -> Path:
    path = find_cjk_font()
    if path is None:
        if IN_CI:
            pytest.fail("the Noto CJK font is missing; .ci/run must install fonts-noto-cjk")
        pytest.skip("the Noto CJK font is not installed (apt-get install fonts-noto-cjk); it runs under CI=true")
    return path


@pytest.fixture(scope="session")
def ocr_engine() -> RapidOcrEngine:
    """One real RapidOCR engine for the session (its models come from inside the wheel)."""
    return RapidOcrEngine(threads=2)


@pytest.fixture
def limits() -> MediaLimits:
    return MediaLimits()
