"""Extraction off the event loop: one warm worker process (``MediaWorker``).

Measured on this 2-core machine (bench/bench_media.py, bench/results_media.json): OCR of one A4 page
costs 5-8 s of CPU with one onnxruntime thread (two threads were slower: their spinning competes for
the same two cores) and lifts the process to 570-760 MB; the documents with a text layer cost 0.1-15 ms
a page. Run in a thread of the web process, OCR raised a CPU-bound task's p99 from 0.5 ms to 8.6 ms and
halved its throughput (the GIL and both cores are shared); in this worker, one onnxruntime thread at
``nice`` 10, the same task's p99 stayed at 0.5 ms. So every file is read here, never in-line: the
process is spawned once, loads the OCR model at start (about 1-2 s), and reads one file at a time;
a hostile file's memory spike stays out of the web process too.

The chat reply has a 5-second budget. The caller awaits ``extract`` under its own deadline and, past
it, keeps the same future running and pushes the receipt later::

    job = asyncio.ensure_future(worker.extract(data, filename=name))
    try:
        result = await asyncio.wait_for(asyncio.shield(job), timeout=budget)
    except TimeoutError:
        job.add_done_callback(push_receipt_later)   # reply "success" now
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool

from intake.media.errors import Corrupt
from intake.media.extract import extract
from intake.media.limits import MediaLimits
from intake.media.ocr import OcrEngine, RapidOcrEngine
from intake.media.result import Extracted

__all__ = ["MediaWorker", "rapid_ocr_factory", "extract_in_thread"]

OcrFactory = Callable[[], OcrEngine | None]

_engine: OcrEngine | None = None  # the worker process's own engine, made once by _start_worker


def rapid_ocr_factory() -> OcrEngine:
    """The default engine of a worker: RapidOCR with one onnxruntime thread."""
    return RapidOcrEngine(threads=1)


def _start_worker(factory: OcrFactory | None, niceness: int) -> None:
    global _engine
    if niceness:
        with contextlib.suppress(OSError):
            os.nice(niceness)
    _engine = factory() if factory is not None else None


def _run(data: bytes, filename: str, limits: MediaLimits) -> Extracted:
    return extract(data, filename=filename, limits=limits, ocr=_engine)


def _ready() -> bool:
    return True


class MediaWorker:
    """A process pool (one process by default) that extracts with a warm OCR model.

    ``ocr_factory`` must be a picklable module-level callable (it runs in the worker); None turns OCR
    off (pictures and scans then raise ``Unsupported``). Errors raised by ``extract`` in the worker
    arrive unchanged (every ``MediaError`` pickles)."""

    def __init__(self, *, limits: MediaLimits, ocr_factory: OcrFactory | None = rapid_ocr_factory,
                 processes: int = 1, niceness: int = 10) -> None:
        self.limits = limits
        self._settings = (processes, ocr_factory, niceness)
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        processes, ocr_factory, niceness = self._settings
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(ocr_factory, niceness))

    async def start(self) -> None:
        """Spawn the process and load the model now, not on the first picture (about 2-3 s)."""
        await asyncio.wrap_future(self._pool.submit(_ready))

    async def extract(self, data: bytes, *, filename: str) -> Extracted:
        """``extract`` in the worker; the same result or ``MediaError``. A file that kills the worker
        (out of memory, a crash in a native parser) is ``Corrupt("worker")``; a new worker is started."""
        pool = self._pool
        try:
            return await asyncio.wrap_future(pool.submit(_run, data, filename, self.limits))
        except BrokenProcessPool as exc:
            if self._pool is pool:
                self._pool = self._new_pool()
                pool.shutdown(wait=False)
            raise Corrupt("worker", "读取时出错") from exc

    async def close(self) -> None:
        """Stop the worker (a file being read is finished first)."""
        await asyncio.get_running_loop().run_in_executor(None, self._pool.shutdown)


async def extract_in_thread(data: bytes, *, filename: str, limits: MediaLimits, ocr: OcrEngine | None) -> Extracted:
    """``extract`` in the default thread pool: for text-only formats where no worker is running
    (tests, command-line tools). The GIL is still shared with the event loop; the chat path uses
    ``MediaWorker``."""
    return await asyncio.to_thread(extract, data, filename=filename, limits=limits, ocr=ocr)
