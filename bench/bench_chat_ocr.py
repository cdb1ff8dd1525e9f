"""The text chat edge while pictures are read (issue 16): p50/p99 of POST /wechat for a bound clerk's
typed notices (signature, XML, classify, store the task, reply) with nothing else going on (the baseline),
then while the same server reads a picture by OCR without pause (pictures sent through the upload page:
multipart POST, media worker, OCR), in the same run.

    .venv/bin/python bench/bench_chat_ocr.py [--seconds 20] [--no-write]

One server process (the real app: SQLite in WAL mode, the media worker started at start-up) serves
both; the client runs in the same event loop, so its own cost is in both figures alike. Messages are
sent one at a time (latency, not throughput). A benchmark, not a test: prints the figures, writes
bench/results_chat_ocr.json; the last line of output is the JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import html
import io
import json
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).resolve().parent / "results_chat_ocr.json"
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
NOTICE = "街道办事处:请各社区于12月{day}日前召开居民代表会议,民主协商停车管理方案第{n}项,会议记录报街道备案。"
LINK = re.compile(r"/upload/[0-9a-f]{32}\?e=\d+&s=[0-9a-f]+")


def _picture() -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1080, 1440), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 34)
    lines = ["关于开展低保家庭入户核查工作的通知", "各社区居委会:", "请于2026年12月25日前完成辖区低保家庭入户核查,",
             "填写核查表后报区民政局社会救助科。"] * 6
    for i, line in enumerate(lines):
        draw.text((60, 60 + i * 52), line, font=font, fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class Client:
    """An Official Account in plaintext mode talking to the server (signature over the query string)."""

    def __init__(self, http: Any, base: str, token: str) -> None:
        self.http, self.base, self.token, self.ids = http, base, token, 1

    async def say(self, user: str, text: str) -> tuple[float, str]:
        ts, nonce = str(int(time.time())), secrets.token_hex(6)
        signature = hashlib.sha1("".join(sorted((self.token, ts, nonce))).encode()).hexdigest()
        self.ids += 1
        xml = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{user}</FromUserName><CreateTime>{ts}</CreateTime>"
               f"<MsgType>text</MsgType><Content><![CDATA[{text}]]></Content><MsgId>{self.ids}</MsgId></xml>")
        began = time.perf_counter()
        async with self.http.post(f"{self.base}/wechat", params={"signature": signature, "timestamp": ts,
                                                                 "nonce": nonce}, data=xml.encode()) as resp:
            body = await resp.text()
        return (time.perf_counter() - began) * 1000, body


def _percentiles(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {"messages": len(ordered), "p50_ms": round(ordered[len(ordered) // 2], 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99)], 2), "max_ms": round(ordered[-1], 1)}


async def _texts(client: Client, seconds: float, start: int) -> list[float]:
    timings: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        n = start + len(timings)
        elapsed, body = await client.say("o-bench-clerk", NOTICE.format(day=20 + n % 8, n=n))
        assert "已登记" in body, body[:200]
        timings.append(elapsed)
    return timings


async def _keep_reading(http: Any, base: str, link: str, picture: bytes, stop: asyncio.Event) -> list[float]:
    """Pictures through the upload page, one after another, until stopped; each one's seconds."""
    import aiohttp

    path, _, query = link.partition("?")
    seconds: list[float] = []
    while not stop.is_set():
        form = aiohttp.FormData()
        form.add_field("file", picture, filename="notice.jpg", content_type="image/jpeg")
        began = time.perf_counter()
        async with http.post(f"{base}{path}/read?{query}", data=form) as resp:
            page = await resp.text()
        assert resp.status == 200 and "入户核查" in page, page[:300]
        seconds.append(round(time.perf_counter() - began, 2))
    return seconds


def _settings() -> Any:
    from bot.settings import load_settings
    from intake.store.db import upgrade_database

    folder = Path(tempfile.mkdtemp(prefix="jianfu-bench-"))
    settings = load_settings(ROOT / "config.toml", environ={
        "JIANFU_DATABASE_URL": f"sqlite:///{folder / 'jianfu.db'}", "JIANFU_MEDIA_DIR": str(folder / "media"),
        "JIANFU_SERVER_ENVIRONMENT": "test", "JIANFU_ADMISSION_UNFUNDED_ASSIST": "flag"})
    upgrade_database(settings)
    return settings


async def run(settings: Any, seconds: float) -> dict[str, Any]:
    import aiohttp
    from aiohttp.test_utils import TestServer

    from bot.app import create_app
    from bot.keys import MEDIA_WORKER, SERVICES
    from intake.accounts import add_invite
    from intake.store.models import Role

    server = TestServer(create_app(settings, background=False), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    app = server.app
    assert app is not None
    await app[MEDIA_WORKER].start()  # warm: the model is loaded before anything is measured
    async with app[SERVICES].engine.begin() as conn:
        code = await add_invite(conn, role=Role.clerk, department="民政局", now=dt.datetime.now(dt.UTC),
                                created_by="bench")
    async with aiohttp.ClientSession() as http:
        client = Client(http, base, settings.wechat.token)
        _, bound = await client.say("o-bench-clerk", f"绑定 {code}")
        assert "绑定成功" in bound, bound
        link = LINK.search(html.unescape((await client.say("o-bench-clerk", "上传"))[1]))  # the reply is XML
        assert link is not None
        await _texts(client, 2, 0)  # warm-up (jieba, prepared statements)
        baseline = await _texts(client, seconds, 10_000)
        stop = asyncio.Event()
        reading = asyncio.ensure_future(_keep_reading(http, base, link.group(0), _picture(), stop))
        await asyncio.sleep(1)  # the first picture is in the worker
        during = await _texts(client, seconds, 20_000)
        stop.set()
        pictures = await reading
    await server.close()
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
            "load_avg_before": round(os.getloadavg()[0], 2), "seconds_per_phase": seconds,
            "baseline": _percentiles(baseline), "while_ocr": _percentiles(during),
            "pictures_read": len(pictures), "seconds_per_picture": pictures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(_settings(), args.seconds))
    for phase in ("baseline", "while_ocr"):
        m = result[phase]
        print(f"{phase:10s} {m['messages']:6d} messages  p50 {m['p50_ms']:7.2f} ms  p99 {m['p99_ms']:7.2f} ms  "
              f"max {m['max_ms']:7.1f} ms")
    print(f"pictures read meanwhile: {result['pictures_read']} ({result['seconds_per_picture']} s each)")
    if not args.no_write:
        RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
