"""The `jianfu` console script. Every subcommand takes --config PATH (default ./config.toml)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.settings import ConfigError, Settings, load_settings
from intake.reports.safety import slug
from intake.store.values import ConsoleRole, Role

if TYPE_CHECKING:
    from intake.reports.model import Digest

__all__ = ["main", "build_parser"]


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app
    from intake.console_users import ensure_first_admin

    settings = _settings(args)
    logging.basicConfig(level=settings.server.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per 30-second tick is noise
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    started = time.monotonic()

    async def announce(app: web.Application) -> None:
        print(f"减负通 Jianfu 已启动 ({time.monotonic() - started:.1f}s): http://{host}:{port}", flush=True)
        print(f"  公众号回调 http://{host}:{port}/wechat   企业微信回调 http://{host}:{port}/wecom", flush=True)
        print(f"  管理后台   http://{host}:{port}/admin    健康检查 http://{host}:{port}/healthz", flush=True)

    first_login = asyncio.run(_with_conn(settings, ensure_first_admin))
    app = create_app(settings)
    app.on_startup.append(announce)
    if first_login is not None:
        username, password = first_login
        print(f"首次启动:已创建管理后台用户 {username},密码 {password}(请登录后修改,或用 jianfu admin create 另建)")
    web.run_app(app, host=host, port=port, print=None, access_log=None)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from intake.store.db import upgrade_database

    settings = _settings(args)
    logging.basicConfig(level=logging.WARNING)
    upgrade_database(settings)
    print(f"数据库已是最新结构: {settings.database.url}")
    return 0


async def _with_conn(settings: Settings, work: Any) -> Any:
    from intake.store.db import create_engine

    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            return await work(conn)
    finally:
        await engine.dispose()


def cmd_invite(args: argparse.Namespace) -> int:
    from intake.accounts import add_invite, get_invite_target
    from intake.org import sync_org_from_config
    from intake.store.models import Role

    settings = _settings(args)
    role = Role(args.role)

    async def work(conn: Any) -> tuple[str, str]:
        from classifiers import load_rules

        rules = load_rules(override_paths=settings.rule_paths, communities=settings.community_names)
        await sync_org_from_config(conn, districts=settings.districts, departments=rules.departments,
                                   now=dt.datetime.now(dt.UTC))
        code = await add_invite(
            conn, role=role, department=args.department, community=args.community, district=args.district,
            now=dt.datetime.now(dt.UTC), valid_days=args.days, created_by="cli",
        )
        return code, await get_invite_target(conn, code=code)

    code, target = asyncio.run(_with_conn(settings, work))
    print(f"邀请码({target} {role.value},{args.days}天内有效,仅可使用一次)。请让对方在公众号/企业微信中发送:绑定 {code}")
    print(code)
    return 0


def cmd_admin_create(args: argparse.Namespace) -> int:
    from intake.console_users import add_admin_user

    settings = _settings(args)
    if sys.stdin.isatty():
        password = getpass.getpass("密码: ")
        if getpass.getpass("再输一次: ") != password:
            print("两次输入的密码不一致,未创建用户。", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("密码至少 8 位,未创建用户。", file=sys.stderr)
        return 2

    async def work(conn: Any) -> str:
        from intake.scope import describe_scope, parse_scope, resolve_scope

        level, scope_id = await parse_scope(conn, text=args.scope) if args.scope else (None, None)
        await add_admin_user(conn, username=args.username, password=password, role=args.role,
                             scope_level=level.value if level else None, scope_id=scope_id)
        return describe_scope(await resolve_scope(conn, level=level, scope_id=scope_id))

    reach = asyncio.run(_with_conn(settings, work))
    print(f"已创建后台用户 {args.username}({args.role},范围:{reach})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from intake.reports.export_command import run_export

    return run_export(_settings(args), kind=args.what, fmt=args.format, month=args.month, output=args.output)


async def _build_digest(settings: Settings, month: str, community: str | None) -> Digest:
    from intake.reports.digest import build_digest
    from intake.store.db import create_engine

    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return await build_digest(conn, month=month, community=community, settings=settings,
                                      now=dt.datetime.now(dt.UTC))
    finally:
        await engine.dispose()


def cmd_digest(args: argparse.Namespace) -> int:
    """``jianfu digest``: print or write one month's digest; errors are one line and an exit code."""
    from intake.calendar import month_bounds
    from intake.errors import NotFound
    from intake.reports.chart import render_chart_png
    from intake.reports.render import render_markdown, to_json, write_xlsx

    try:
        month_bounds(args.month, ZoneInfo("UTC"))
    except ValueError:
        print(f"--month {args.month!r} is not YYYY-MM", file=sys.stderr)
        return 2
    try:
        digest = asyncio.run(_build_digest(_settings(args), args.month, args.community))
    except NotFound as exc:
        print(f"community {exc} not found", file=sys.stderr)
        return 1
    fmt = args.format
    if fmt in ("xlsx", "png"):
        output = Path(args.output or f"digest-{digest.month}-{slug(digest.scope)}.{fmt}")
        written = write_xlsx(digest, output) if fmt == "xlsx" else render_chart_png(digest, output)
        print(written)
        return 0
    text = render_markdown(digest) if fmt == "md" else json.dumps(to_json(digest), ensure_ascii=False, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(args.output)
    else:
        sys.stdout.write(text)
    return 0


async def _build_report(settings: Settings, year: int, scope: str | None) -> Any:
    from classifiers import load_rules
    from intake.reports.burden import build_burden_report, year_bounds
    from intake.reports.rollups import keep_closed_months, list_months
    from intake.store.db import create_engine

    rules = load_rules(override_paths=settings.rule_paths, communities=settings.community_names)
    year_bounds(year, settings.tz)  # a bad year is told before any work
    engine = create_engine(settings)
    try:
        now = dt.datetime.now(dt.UTC)
        # the year's closed months are kept for the next run (month_rollups, as the server's sweep keeps them)
        await keep_closed_months(engine, months=list_months(f"{year:04d}-12", 12), settings=settings, now=now)
        async with engine.connect() as conn:
            return await build_burden_report(conn, year=year, scope=scope, settings=settings,
                                             item_texts={code: item.text for code, item in rules.items.items()},
                                             now=now)
    finally:
        await engine.dispose()


def cmd_report(args: argparse.Namespace) -> int:
    """``jianfu report``: the yearly burden report as md (stdout or a file), docx or pdf."""
    from intake.errors import InvalidRequest, NotFound
    from intake.reports.burden_render import render_markdown, write_report
    from intake.reports.chart import CjkFontMissing

    try:
        report = asyncio.run(_build_report(_settings(args), args.year, args.scope))
    except (NotFound, InvalidRequest) as exc:
        print(str(exc), file=sys.stderr)  # which name was not found on the organisation tree, and what to write
        return 1
    if args.format == "md" and not args.output:
        sys.stdout.write(render_markdown(report))
        return 0
    output = Path(args.output or f"burden-{report.year}-{report.scope_name}.{args.format}")
    try:
        print(write_report(report, fmt=args.format, path=output))
    except CjkFontMissing as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


def _ensure_config_option(parser: argparse.ArgumentParser) -> None:
    """Every subcommand (also those registered by the classifier and digest modules) takes --config."""
    if "--config" not in parser._option_string_actions:
        parser.add_argument("--config", default="config.toml", help="配置文件路径(默认 ./config.toml)")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _ensure_config_option(child)


def _add_report_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """``export``, ``digest`` and ``report``: what the log says, as files."""
    export = sub.add_parser("export", parents=[common], help="导出")
    export.add_argument("what", choices=["tasks"])
    export.add_argument("--format", choices=["jsonl", "csv", "xlsx"], default="jsonl")
    export.add_argument("--month", help="YYYY-MM")
    export.add_argument("--output", "-o", help="输出文件(xlsx 必填;默认标准输出)")
    export.set_defaults(func=cmd_export)

    digest = sub.add_parser("digest", parents=[common], help="月度减负月报",
                            description="打印或写出一个社区或全区的月度减负月报。")
    digest.add_argument("--month", required=True, help="YYYY-MM")
    digest.add_argument("--community", default=None, help="社区名称(默认全区)")
    digest.add_argument("--format", choices=("md", "json", "xlsx", "png"), default="md")
    digest.add_argument("--output", default=None, help="输出文件(xlsx、png 必填)")
    digest.set_defaults(func=cmd_digest)

    report = sub.add_parser("report", parents=[common], help="年度减负报告",
                            description="按年度和范围生成减负报告(基本情况、存在问题、对策建议)。")
    report.add_argument("--year", type=int, required=True, help="YYYY")
    report.add_argument("--scope", default=None, help="district:区名、street:街道名(或 区名/街道名)、community:社区名(默认全部)")
    report.add_argument("--format", choices=("md", "docx", "pdf"), default="md")
    report.add_argument("--output", default=None, help="输出文件(md 默认打印到标准输出)")
    report.set_defaults(func=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default="config.toml", help="配置文件路径(默认 ./config.toml)")
    parser = argparse.ArgumentParser(prog="jianfu", description="减负通 Jianfu: 社区减负任务登记与提醒")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="启动服务")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", parents=[common], help="数据库")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", parents=[common], help="应用数据库迁移")
    upgrade.set_defaults(func=cmd_db_upgrade)

    invite = sub.add_parser("invite", parents=[common], help="生成一次性绑定邀请码")
    invite.add_argument("--role", choices=[r.value for r in Role], required=True)
    invite.add_argument("--department")
    invite.add_argument("--community")
    invite.add_argument("--district", help="区名:部门或社区所在的区(一个部署有多个区、部门同名时必填)")
    invite.add_argument("--days", type=int, default=7)
    invite.set_defaults(func=cmd_invite)

    admin = sub.add_parser("admin", parents=[common], help="管理后台用户")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create", parents=[common], help="创建后台用户(密码从终端或标准输入读取)")
    create.add_argument("username")
    create.add_argument("--role", choices=[r.value for r in ConsoleRole], default=ConsoleRole.admin.value)
    create.add_argument("--scope", default=None, metavar="district:NAME|street:NAME|community:NAME",
                        help="只能看到这个区、街道或社区(默认全部)")
    create.set_defaults(func=cmd_admin_create)

    _add_report_commands(sub, common)

    from classifiers.cli import register as register_classifier

    register_classifier(sub)
    from bot.cli_learning import register_learning

    register_learning(sub, common)
    from bot.cli_org import register_org

    register_org(sub, common)
    for command in sub.choices.values():
        _ensure_config_option(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        handler = getattr(args, "func", None) or args.handler  # classifier/digest modules set `handler`
        return int(handler(args))
    except ConfigError as exc:
        print(f"配置错误: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from intake.errors import IntakeError

        if isinstance(exc, IntakeError):
            print(f"错误: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())
