"""`jianfu export tasks`: jsonl, csv and xlsx, with a month filter and clear errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook

from intake.reports.export_command import run_export
from tests.conftest import make_settings
from tests.console_support import seed_task


@pytest.fixture
def settings(db_url):
    """Every export test runs on SQLite and on a real PostgreSQL."""
    return make_settings(db_url)


async def _seed(engine):
    from intake.accounts import seed_directory

    async with engine.begin() as conn:  # the app seeds these on start; the CLI runs without it
        await seed_directory(conn, departments=["民政局"], communities=[("幸福社区", 9), ("和平社区", 8)])
    a = await seed_task(engine, received_at=dt.datetime(2025, 11, 20, 9, tzinfo=dt.UTC))
    b = await seed_task(engine, raw_text="请开具居住证明", kind="certificate", listing="duty", item="C",
                        received_at=dt.datetime(2025, 10, 3, 9, tzinfo=dt.UTC))
    return a, b


def _run(settings, **kw):
    import concurrent.futures

    # run_export owns its event loop (asyncio.run); call it from a plain thread as the CLI would
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run_export, settings, **kw).result()


async def test_export_jsonl_every_task_with_targets(settings, engine, capsys):
    a, b = await _seed(engine)
    assert _run(settings, kind="tasks", fmt="jsonl", month=None, output=None) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["code"] for x in lines] == [a, b]
    first = lines[0]
    for key in ("code", "msg_id", "sender", "department", "kind", "listing", "item", "deadline", "status", "targets"):
        assert key in first
    assert {t["community"] for t in first["targets"]} == {"幸福社区", "和平社区"}


async def test_export_month_csv_and_xlsx(settings, engine, capsys, tmp_path):
    a, b = await _seed(engine)
    assert _run(settings, kind="tasks", fmt="csv", month="2025-10", output=None) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][0] == "任务编号" and [r[0] for r in rows[1:]] == [b]
    path = tmp_path / "t.xlsx"
    assert _run(settings, kind="tasks", fmt="xlsx", month=None, output=str(path)) == 0
    sheet = load_workbook(path).active
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == [a, b]


async def test_export_bad_month_says_how(settings, capsys):
    assert _run(settings, kind="tasks", fmt="jsonl", month="2025/10", output=None) == 2
    assert "YYYY-MM" in capsys.readouterr().err
