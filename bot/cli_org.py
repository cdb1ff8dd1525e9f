"""`jianfu org import FILE.xlsx`: the organisation tree from a sheet, one row per community (区, 街道, 社区, 工作人员数).

It prints what changed. A sheet with rows that cannot be read imports nothing and lists those rows.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Any

from bot.settings import load_settings

__all__ = ["register_org"]


def cmd_org_import(args: argparse.Namespace) -> int:
    from intake.org import OrgRowsRefused, apply_org_rows
    from intake.org.importer import OrgSheetError, read_org_sheet
    from intake.org.texts import NO_CHANGE
    from intake.store.db import create_engine

    path = Path(args.file)
    try:
        rows = read_org_sheet(path.read_bytes(), name=path.name)
    except FileNotFoundError:
        print(f"找不到文件 {path}", file=sys.stderr)
        return 2
    except OrgSheetError as exc:
        print(exc, file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    settings = load_settings(args.config)

    async def run() -> Any:
        engine = create_engine(settings)
        try:
            async with engine.begin() as conn:
                return await apply_org_rows(conn, rows=rows, source=path.name, author=f"cli:{getpass.getuser()}",
                                            now=dt.datetime.now(dt.UTC))
        finally:
            await engine.dispose()

    try:
        changes = asyncio.run(run())
    except OrgRowsRefused as exc:
        print(exc, file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    for line in changes.lines:
        print(line)
    if changes.version is None:
        print(NO_CHANGE)
    else:
        print(f"已导入 {len(rows)} 个社区,{len(changes.lines)} 处变化(组织架构第 {changes.version} 版)。")
    return 0


def register_org(sub: Any, common: argparse.ArgumentParser) -> None:
    org = sub.add_parser("org", parents=[common], help="组织架构(区、街道、社区)")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    imp = org_sub.add_parser("import", parents=[common], help="从 Excel 导入:每行一个社区,列 区、街道、社区、工作人员数")
    imp.add_argument("file", help="FILE.xlsx")
    imp.set_defaults(func=cmd_org_import)
