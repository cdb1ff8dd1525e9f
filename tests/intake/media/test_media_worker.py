"""The worker process: a warm OCR model, results and errors across the process boundary, and an event
loop that keeps ticking while a picture is read."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from intake.media import Corrupt, MediaLimits, MediaWorker, SourceType, Unsupported, extract_in_thread
from tests.intake.media.samples import crashing_ocr_factory, make_docx, png_bytes, render_notice


async def longest_stall(until: asyncio.Future[object]) -> float:
    """The longest gap between 10 ms ticks of the event loop while ``until`` runs."""
    worst, last = 0.0, time.perf_counter()
    while not until.done():
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        worst, last = max(worst, now - last), now
    return worst


async def test_worker_reads_a_picture_off_the_event_loop_and_sends_errors_back(
        cjk_font: Path, limits: MediaLimits) -> None:
    worker = MediaWorker(limits=limits)
    try:
        await worker.start()
        job = asyncio.ensure_future(worker.extract(png_bytes(render_notice(cjk_font)), filename="a.png"))
        stall = await longest_stall(job)
        result = job.result()
        assert result.source_type is SourceType.IMAGE and "入户核查" in result.text.replace(" ", "")
        assert stall < 1.0, f"the event loop stalled {stall:.2f} s while OCR ran"
        with pytest.raises(Corrupt) as caught:
            await worker.extract(b"\x89PNG\r\n\x1a\n" + bytes(100), filename="a.png")
        assert caught.value.reason == "corrupt.image"
    finally:
        await worker.close()


async def test_worker_without_ocr_reads_documents_and_refuses_pictures(cjk_font: Path, limits: MediaLimits) -> None:
    worker = MediaWorker(limits=limits, ocr_factory=None)
    try:
        result = await worker.extract(make_docx(), filename="a.docx")
        assert result.source_type is SourceType.DOCX
        with pytest.raises(Unsupported):
            await worker.extract(png_bytes(render_notice(cjk_font)), filename="a.png")
    finally:
        await worker.close()


async def test_extract_in_thread_gives_what_extract_gives(limits: MediaLimits) -> None:
    result = await extract_in_thread(make_docx(), filename="a.docx", limits=limits, ocr=None)
    assert result.source_type is SourceType.DOCX and "低保" in result.text


async def test_file_that_kills_the_worker_is_corrupt_and_the_next_file_is_read(
        cjk_font: Path, limits: MediaLimits) -> None:
    worker = MediaWorker(limits=limits, ocr_factory=crashing_ocr_factory)
    try:
        with pytest.raises(Corrupt) as caught:
            await worker.extract(png_bytes(render_notice(cjk_font)), filename="a.png")
        assert caught.value.reason == "corrupt.worker"
        result = await worker.extract(make_docx(), filename="a.docx")
        assert "低保" in result.text
    finally:
        await worker.close()
