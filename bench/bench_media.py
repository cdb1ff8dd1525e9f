"""Documents and pictures to text (issue 16): time per page and peak memory for each format, the OCR
model's load, 1 vs 2 onnxruntime threads, and what OCR does to a CPU-bound task on the main thread
(a Python thread of the web process: the stand-in for the chat edge) when it runs in-line in a thread vs in the niced worker process.

    .venv/bin/python bench/bench_media.py [--reps 5] [--no-write]

Each format runs in a fresh process (``--one NAME``) so its peak RSS is its own: imports, one warm-up
extraction, then ``reps`` timed ones (best and median kept). Files are made by the tests' builders
(tests/intake/media/samples.py) at realistic sizes: an A4 page picture (1240 x 1754), a phone
screenshot (1080 x 1440), a 5-page text PDF, a 1-page scan, a 1,000-row form.

A benchmark, not a test: prints a table, writes bench/results_media.json, never fails. The last line
of output is the JSON summary (bench/run_all.py reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).resolve().parent / "results_media.json"
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
PAGE_LINES = (
    "关于开展2025年度低保家庭入户核查工作的通知",
    "各社区居委会:",
    "为进一步规范最低生活保障管理,请于2025年6月30日前完成辖区低保家庭入户核查,",
    "逐户填写核查表,由核查人和户主签字确认后报区民政局社会救助科。",
    "核查内容包括家庭人口、收入、财产和就业情况,发现不符合条件的及时上报。",
    "请各社区安排专人负责,注意保护居民隐私,不得漏报瞒报。",
    "联系人:王科长  电话:12345678",
    "某某区民政局",
    "2025年5月20日",
)
OCR_FORMATS = ("image_a4_png", "image_phone_jpg", "pdf_scanned_1p", "docx_pasted_scan")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def page_picture(size: tuple[int, int] = (1240, 1754), text_px: int = 30) -> Any:
    from tests.intake.media.samples import render_notice

    return render_notice(FONT, PAGE_LINES * 3, size=size, text_px=text_px)


def jpeg(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def pasted_scan_docx() -> bytes:
    import docx

    from tests.intake.media.samples import png_bytes

    document = docx.Document()
    document.add_picture(io.BytesIO(png_bytes(page_picture())))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def samples() -> dict[str, Callable[[], tuple[bytes, str]]]:
    from tests.intake.media import samples as s

    long_page = PAGE_LINES * 3
    return {
        "txt": lambda: ("\n".join(long_page).encode("gb18030"), "a.txt"),
        "docx": lambda: (s.make_docx(paragraphs=long_page), "a.docx"),
        "pdf_text_5p": lambda: (s.make_text_pdf(FONT, (long_page,) * 5), "a.pdf"),
        "xlsx_1000_rows": lambda: (s.make_xlsx(rows=1000), "a.xlsx"),
        "xls": lambda: (s.make_xls(), "a.xls"),
        "ofd_5p": lambda: (s.make_ofd((long_page,) * 5), "a.ofd"),
        "image_a4_png": lambda: (s.png_bytes(page_picture()), "a.png"),
        "image_phone_jpg": lambda: (jpeg(page_picture((1080, 1440), 34)), "a.jpg"),
        "pdf_scanned_1p": lambda: (s.make_scanned_pdf(page_picture()), "a.pdf"),
        "docx_pasted_scan": lambda: (pasted_scan_docx(), "a.docx"),
    }


def run_one(name: str, reps: int, threads: int) -> dict[str, Any]:
    """In this (fresh) process: one format's figures."""
    from intake.media import MediaLimits, RapidOcrEngine, extract

    data, filename = samples()[name]()
    rss_start = rss_mib()
    ocr = None
    load_s = 0.0
    if name in OCR_FORMATS:
        began = time.perf_counter()
        ocr = RapidOcrEngine(threads=threads)
        load_s = time.perf_counter() - began
    rss_ready = rss_mib()
    limits = MediaLimits()
    first = time.perf_counter()
    result = extract(data, filename=filename, limits=limits, ocr=ocr)
    first_s = time.perf_counter() - first
    walls, cpus = [], []
    for _ in range(reps):
        w, c = time.perf_counter(), time.process_time()
        extract(data, filename=filename, limits=limits, ocr=ocr)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    pages = max(1, result.pages)
    return {
        "format": name, "bytes": len(data), "pages": pages, "chars": len(result.text), "ocr": result.ocr,
        "first_ms": round(first_s * 1000, 1),
        "best_ms": round(min(walls) * 1000, 1), "median_ms": round(statistics.median(walls) * 1000, 1),
        "ms_per_page": round(min(walls) * 1000 / pages, 1), "cpu_ms_per_page": round(min(cpus) * 1000 / pages, 1),
        "ocr_load_s": round(load_s, 2), "rss_after_imports_mib": round(rss_start), "rss_model_ready_mib": round(rss_ready),
        "peak_rss_mib": round(rss_mib()), "threads": threads if ocr else None,
    }


def in_fresh_process(name: str, reps: int, threads: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--one", name, "--reps", str(reps), "--threads", str(threads)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    if proc.returncode != 0:
        return {"format": name, "error": proc.stderr.strip().splitlines()[-1:]}
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


# ---------------------------------------------------------------- interference with the main thread

def main_thread_task_ms(seconds: float) -> list[float]:
    """A CPU-bound stand-in for one text message (classify a notice), timed call by call."""
    from classifiers import classify, load_rules

    rules = load_rules(communities=("幸福社区", "和平社区", "光明社区"))
    text = "【区民政局】请各社区于6月30日前对辖区低保家庭开展入户核查,填写核查表后报社会救助科。"
    now = dt.datetime(2025, 5, 20, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    timings: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        began = time.perf_counter()
        classify(text + str(len(timings)), now=now, sender_department=None, rules=rules)
        timings.append((time.perf_counter() - began) * 1000)
    return timings


def percentiles(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {"calls": len(ordered), "p50_ms": round(ordered[len(ordered) // 2], 3),
            "p99_ms": round(ordered[int(len(ordered) * 0.99)], 3), "max_ms": round(ordered[-1], 2)}


async def interference(seconds: float) -> dict[str, Any]:
    """The main-thread task's latency idle, with OCR in a thread (2 onnxruntime threads, not niced),
    and with OCR in the MediaWorker (1 thread, nice 10), OCR kept busy the whole time."""
    from intake.media import MediaLimits, MediaWorker, RapidOcrEngine, extract

    data = jpeg(page_picture((1080, 1440), 34))
    limits = MediaLimits()
    loop = asyncio.get_running_loop()
    out: dict[str, Any] = {"idle": percentiles(main_thread_task_ms(seconds))}

    engine = RapidOcrEngine(threads=2)
    stop = asyncio.Event()

    async def keep_busy(run: Callable[[], Any]) -> int:
        count = 0
        while not stop.is_set():
            await run()
            count += 1
        return count

    busy = asyncio.ensure_future(keep_busy(lambda: asyncio.to_thread(
        extract, data, filename="a.jpg", limits=limits, ocr=engine)))
    out["ocr_in_thread"] = percentiles(await loop.run_in_executor(None, main_thread_task_ms, seconds))
    stop.set()
    out["ocr_in_thread"]["pictures"] = await busy

    worker = MediaWorker(limits=limits)
    began = time.perf_counter()
    await worker.start()
    out["worker_start_s"] = round(time.perf_counter() - began, 2)
    stop.clear()
    busy = asyncio.ensure_future(keep_busy(lambda: worker.extract(data, filename="a.jpg")))
    out["ocr_in_worker"] = percentiles(await loop.run_in_executor(None, main_thread_task_ms, seconds))
    stop.set()
    out["ocr_in_worker"]["pictures"] = await busy
    await worker.close()
    return out


# ---------------------------------------------------------------- main

def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'format':20s} {'pages':>5s} {'chars':>6s} {'ms/page':>8s} {'cpu/page':>8s} {'best ms':>8s} "
          f"{'median':>8s} {'first':>8s} {'peak RSS':>9s} {'model':>6s}")
    for r in rows:
        if "error" in r:
            print(f"{r['format']:20s} error: {r['error']}")
            continue
        print(f"{r['format']:20s} {r['pages']:5d} {r['chars']:6d} {r['ms_per_page']:8.1f} {r['cpu_ms_per_page']:8.1f} "
              f"{r['best_ms']:8.1f} {r['median_ms']:8.1f} {r['first_ms']:8.1f} {r['peak_rss_mib']:6d} MiB "
              f"{r['ocr_load_s']:5.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads for OCR")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--interference-s", type=float, default=20.0)
    parser.add_argument("--interference-only", action="store_true", help="only the main-thread figures (not written)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.reps, args.threads), ensure_ascii=False))
        return
    load_before = os.getloadavg()[0]
    if args.interference_only:
        print(json.dumps(asyncio.run(interference(args.interference_s)), ensure_ascii=False))
        return
    rows = [in_fresh_process(name, args.reps if name not in OCR_FORMATS else max(2, args.reps // 2), 1)
            for name in samples()]
    two_threads = [in_fresh_process(name, 2, 2) for name in ("image_a4_png", "image_phone_jpg")]
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before:.2f} at start")
    print_table(rows)
    print("\nOCR with 2 onnxruntime threads:")
    print_table(two_threads)
    mix = asyncio.run(interference(args.interference_s))
    print("\na CPU-bound task on the main thread (classify one notice), per call:")
    for key in ("idle", "ocr_in_thread", "ocr_in_worker"):
        m = mix[key]
        print(f"  {key:15s} p50 {m['p50_ms']:7.3f} ms  p99 {m['p99_ms']:7.3f} ms  max {m['max_ms']:7.1f} ms"
              f"  ({m['calls']} calls{', ' + str(m['pictures']) + ' pictures read' if 'pictures' in m else ''})")
    print(f"  worker start (spawn + model load): {mix['worker_start_s']} s")
    summary = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
               "load_avg_before": round(load_before, 2), "formats": rows, "ocr_two_threads": two_threads,
               "main_thread_interference": mix}
    if not args.no_write:
        RESULTS.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"written {RESULTS.relative_to(ROOT)}")
    compact = {"ms_per_page": {r["format"]: r.get("ms_per_page") for r in rows},
               "peak_rss_mib": {r["format"]: r.get("peak_rss_mib") for r in rows},
               "p99_ms": {k: mix[k]["p99_ms"] for k in ("idle", "ocr_in_thread", "ocr_in_worker")},
               "load_avg_before": round(load_before, 2)}
    print(json.dumps(compact, ensure_ascii=False))


if __name__ == "__main__":
    main()
