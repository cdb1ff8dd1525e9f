"""`jianfu eval --log` and `jianfu rules suggest`: the corrections kept in the database, read by the rules
in force (shipped files, `[rules] paths`, then the newest console edit)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bot.settings import Settings, load_settings
from classifiers import Rules

__all__ = ["register_learning"]

NO_CORRECTIONS = "数据库中还没有人工更正。在管理后台更正、准入或退回任务后,这里会用现行规则重新评估它们。"


async def _load_log(settings: Settings) -> tuple[list[str], Rules]:
    """The kept corrections as labelled lines, and the rules in force."""
    from intake.corrections import build_eval_lines, list_correction_examples
    from intake.rules_store import RulesProvider
    from intake.store.db import create_engine

    engine = create_engine(settings)
    provider = RulesProvider(settings)
    try:
        async with engine.connect() as conn:
            await provider.refresh(conn)
            examples = await list_correction_examples(conn)
    finally:
        await engine.dispose()
    return build_eval_lines(examples, tz=settings.tz), provider.current


def cmd_eval(args: argparse.Namespace) -> int:
    """`jianfu eval FILE` as the classifiers define it; with --log, every corrected task in the database."""
    from classifiers.cli import handle_eval, print_report
    from classifiers.evaluate import evaluate

    if not args.log:
        return handle_eval(args)
    lines, rules = asyncio.run(_load_log(load_settings(args.config)))
    if not lines:
        print(NO_CORRECTIONS)
        return 0
    report = evaluate(lines, rules)
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, default=str) + "\n")
    else:
        print_report(report, sys.stdout)
    return 0


def _suggestion_json(s: Any) -> dict[str, Any]:
    return {"field": s.field, "value": s.value, "word": s.word, "inside": s.inside, "total": s.total,
            "outside": s.outside, "others": s.others}


def cmd_rules_suggest(args: argparse.Namespace) -> int:
    from classifiers.learning import read_cases, suggest_triggers

    lines, rules = asyncio.run(_load_log(load_settings(args.config)))
    if not lines:
        print(NO_CORRECTIONS)
        return 0
    suggestions = suggest_triggers(read_cases(lines), rules, field=args.field, min_count=args.min_count)
    if args.json:
        for s in suggestions:
            sys.stdout.write(json.dumps(_suggestion_json(s), ensure_ascii=False) + "\n")
        return 0
    if not suggestions:
        print(f"在 {len(lines)} 条人工更正中没有找到能区分事项的新关键词(至少出现 {args.min_count} 次)。")
        return 0
    label = "事项" if args.field == "item" else "类型"
    print(f"{label}\t关键词\t本{label}更正中出现\t其他更正中出现")
    for s in suggestions:
        print(f"{s.value}\t{s.word}\t{s.inside}/{s.total}\t{s.outside}/{s.others}")
    print("在管理后台“清单管理 → 学习建议”中可逐条采纳;采纳前会显示它对已有更正的影响。")
    return 0


def register_learning(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                      common: argparse.ArgumentParser) -> None:
    """--log on the classifiers' `eval`, and the `rules suggest` command."""
    evaluate = sub.choices["eval"]
    evaluate.add_argument("--log", action="store_true", help="用现行规则评估数据库中每条人工更正过的任务")
    evaluate.set_defaults(handler=cmd_eval)
    rules = sub.add_parser("rules", parents=[common], help="分类规则")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    suggest = rules_sub.add_parser("suggest", parents=[common], help="从人工更正中学习:建议能区分各事项的关键词(附计数)")
    suggest.add_argument("--field", choices=("item", "kind"), default="item", help="为清单事项(item)或任务类型(kind)建议")
    suggest.add_argument("--min-count", dest="min_count", type=int, default=2, help="至少在几条该事项的更正中出现(默认 2)")
    suggest.add_argument("--json", action="store_true", help="每行一个 JSON 对象")
    suggest.set_defaults(func=cmd_rules_suggest)
