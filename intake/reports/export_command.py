"""``jianfu export tasks``: the intake log to JSON lines, CSV or Excel, streamed in batches with a
progress bar on a terminal."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from intake.calendar import parse_month
from intake.errors import BadFilter as FilterError
from intake.reports.export import TaskFilters, count_tasks, iter_task_records, record_writer
from intake.reports.workbooks import build_tasks_workbook

__all__ = ["run_export"]

PROGRESS_MIN = 200  # show a progress bar on a terminal from this many tasks on


async def _collect(
    conn: AsyncConnection, filters: TaskFilters, tz: ZoneInfo, total: int, show_progress: bool
) -> AsyncIterator[dict[str, Any]]:
    if not show_progress:
        async for record in iter_task_records(conn, filters=filters, tz=tz):
            yield record
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("导出任务"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task("export", total=total)
        async for record in iter_task_records(conn, filters=filters, tz=tz):
            yield record
            progress.advance(bar)


async def _export(settings: Any, *, fmt: str, filters: TaskFilters, out: IO[str] | None, path: str | None) -> int:
    from intake.store.db import create_engine

    engine = create_engine(settings)
    tz = settings.tz
    try:
        async with engine.connect() as conn:
            total = await count_tasks(conn, filters=filters, tz=tz)
            show = sys.stderr.isatty() and total >= PROGRESS_MIN
            records = [r async for r in _collect(conn, filters, tz, total, show)] if fmt == "xlsx" else None
            if fmt == "xlsx":
                assert records is not None
                data = build_tasks_workbook(records)
                if path:
                    with open(path, "wb") as fh:
                        fh.write(data)
                else:
                    sys.stdout.buffer.write(data)
                    sys.stdout.buffer.flush()
                return total
            assert out is not None
            write = record_writer(fmt, out)
            async for record in _collect(conn, filters, tz, total, show):
                write(record)
            out.flush()
            return total
    finally:
        await engine.dispose()


def run_export(settings: Any, *, kind: str, fmt: str, month: str | None, output: str | None) -> int:
    """`jianfu export tasks`: returns the process exit code (0 ok, 2 bad arguments)."""
    if kind != "tasks":
        print(f"不能导出“{kind}”:目前只支持 tasks。", file=sys.stderr)
        return 2
    if fmt not in ("jsonl", "csv", "xlsx"):
        print(f"格式“{fmt}”无效:请用 --format jsonl、csv 或 xlsx。", file=sys.stderr)
        return 2
    try:
        filters = replace(TaskFilters(), month=month) if month else TaskFilters()
        if month:
            parse_month(month)
    except FilterError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        print("Excel 是二进制文件,不能输出到终端:请加 --output 文件名.xlsx。", file=sys.stderr)
        return 2
    handle: IO[str] | None = None
    try:
        if fmt != "xlsx":
            handle = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
        count = asyncio.run(_export(settings, fmt=fmt, filters=filters, out=handle, path=output))
    except OSError as exc:
        print(f"无法写入 {output}:{exc.strerror}。请检查路径和权限。", file=sys.stderr)
        return 2
    finally:
        if handle is not None and handle is not sys.stdout:
            handle.close()
    if output:
        print(f"已导出 {count} 条任务到 {output}", file=sys.stderr)
    return 0
