"""Command line: `classify` (receipt or JSON lines) and `eval` (accuracy on a labelled file).

`register(subparsers)` adds both subcommands to the `jianfu` console script; `main(argv)` runs them
standalone (`python -m classifiers.cli classify ...`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from classifiers.classify import classify
from classifiers.evaluate import EVAL_FIELDS, HALVES, build_examples, cross_validate, evaluate
from classifiers.messages import describe
from classifiers.rules import Rules, RulesError, load_rules

__all__ = ["EVAL_FIELDS", "evaluate", "handle_eval", "main", "print_report", "register", "rules_from_args"]

# the message time when --now (or a line's `now`) has no zone, and the default `now`: docs/policy.md §5
DEFAULT_TIMEZONE = ZoneInfo("Asia/Shanghai")


def rules_from_args(args: argparse.Namespace) -> Rules:
    """The Rules for a command: `args.rules` if the caller set one, else shipped rules + overrides."""
    given = getattr(args, "rules", None)
    if isinstance(given, Rules):
        return given
    paths = [Path(p) for p in (getattr(args, "rule_paths", None) or ())]
    communities = list(getattr(args, "communities", None) or ())
    return load_rules(override_paths=paths, communities=communities)


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(DEFAULT_TIMEZONE)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=DEFAULT_TIMEZONE)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `classify` and `eval` to a subparsers object."""
    p = subparsers.add_parser("classify", help="读一条任务通知,打印回执;--jsonl 批量处理标准输入")
    p.add_argument("text", nargs="?", help="通知全文")
    p.add_argument("--now", help="消息时间(ISO 8601,默认现在,Asia/Shanghai)")
    p.add_argument("--sender-department", dest="sender_department", help="发送账号绑定的部门")
    p.add_argument("--jsonl", action="store_true", help='从标准输入读 JSON 行 {"id","text","now","sender_department"}')
    p.add_argument("--rules", dest="rule_paths", action="append", default=None, metavar="PATH", help="规则覆盖文件(可重复)")
    p.add_argument("--community", dest="communities", action="append", default=None, metavar="NAME", help="社区名称(可重复)")
    p.set_defaults(handler=handle_classify)

    e = subparsers.add_parser("eval", help="在标注文件上评估分类准确率")
    e.add_argument("file", nargs="?", help="标注文件(jsonl,格式同 dev.jsonl)")
    e.add_argument("--json", action="store_true", help="输出 JSON")
    e.add_argument(
        "--split", action="store_true", help="按编号哈希分为调参(tune)与检验(check)两半,分别报告(检验半只用于度量)"
    )
    e.add_argument(
        "--folds", type=int, default=0, metavar="N",
        help="交叉验证:分 N 折,每折评估时相近通知的示例中去掉本折(衡量第二意见对没见过的通知的效果)",
    )
    e.add_argument("--rules", dest="rule_paths", action="append", default=None, metavar="PATH", help="规则覆盖文件(可重复)")
    e.add_argument("--community", dest="communities", action="append", default=None, metavar="NAME", help="社区名称(可重复)")
    e.set_defaults(handler=handle_eval)

    x = subparsers.add_parser("examples", help="由标注文件生成第二意见的示例(classifiers/rules/examples.jsonl),写到标准输出")
    x.add_argument("files", nargs="*", help="整份用作示例的标注文件(如 dev.jsonl)")
    x.add_argument("--split", dest="split_files", action="append", default=[], metavar="FILE", help="只取调参半的标注文件(可重复)")
    x.set_defaults(handler=handle_examples)


# ---------------------------------------------------------------- classify
def handle_classify(args: argparse.Namespace, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    try:
        rules = rules_from_args(args)
    except RulesError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.jsonl:
        return classify_jsonl(stdin or sys.stdin, out, rules)
    if not args.text:
        print("请给出通知全文,或用 --jsonl 从标准输入读取。", file=sys.stderr)
        return 2
    try:
        now = _parse_now(args.now)
    except ValueError:
        print(f"--now 不是合法的 ISO 8601 时间:{args.now}(例:2026-12-07T10:15:00+08:00)", file=sys.stderr)
        return 2
    result = classify(args.text, now=now, sender_department=args.sender_department, rules=rules)
    print(describe(result), file=out)
    return 0


def _classify_line(line: str, rules: Rules) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"不是合法的 JSON({exc.msg},第 {exc.colno} 列);每行应是一个 JSON 对象"}
    if not isinstance(obj, dict):
        return {"id": None, "error": '每行应是一个 JSON 对象:{"id","text","now","sender_department"}'}
    ident = obj.get("id")
    text = obj.get("text")
    if not isinstance(text, str):
        return {"id": ident, "error": "缺少 text 字段或它不是字符串;请给出通知全文"}
    raw_now = obj.get("now")
    try:
        if raw_now is None:
            raise ValueError
        if not isinstance(raw_now, str):
            raise TypeError
        now = datetime.fromisoformat(raw_now)
    except (ValueError, TypeError):
        return {"id": ident, "error": "now 缺失或不是 ISO 8601 时间;请给出带时区的消息时间,如 2026-12-07T10:15:00+08:00"}
    if now.tzinfo is None:
        now = now.replace(tzinfo=DEFAULT_TIMEZONE)
    sender = obj.get("sender_department")
    if sender is not None and not isinstance(sender, str):
        return {"id": ident, "error": "sender_department 应为字符串或 null"}
    return classify(text, now=now, sender_department=sender, rules=rules).to_json(ident)


def classify_jsonl(stdin: Iterable[str], stdout: TextIO, rules: Rules) -> int:
    """One JSON object a line in, one a line out; bad lines get an error object and the run goes on."""
    for line in stdin:
        if not line.strip():
            continue
        stdout.write(json.dumps(_classify_line(line, rules), ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


# ---------------------------------------------------------------- eval
def print_report(report: dict[str, Any], out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, highlight=False, soft_wrap=True, width=200)
    half = {"tune": ",调参半", "check": ",检验半"}.get(str(report.get("half")), "")
    table = Table(title=f"准确率({report['cases']} 条{half},规则版本 {report['rules_version']})")
    table.add_column("字段")
    table.add_column("准确率", justify="right")
    for field, acc in report["accuracy"].items():
        table.add_row(field, "—" if acc is None else f"{acc:.3f}")
    console.print(table)
    harm = report["harm"]
    console.print(
        f"错误拒绝 {len(harm['wrongly_refused'])} 条 {harm['wrongly_refused'] or ''};"
        f"错误准入 {len(harm['wrongly_admitted'])} 条 {harm['wrongly_admitted'] or ''};"
        f"转人工复核 {len(harm['held_for_review'])} 条(不计为错误)"
    )
    for field, rows in report["confusion"].items():
        grid: dict[str, Counter[str]] = defaultdict(Counter)
        labels: set[str] = set()
        for row in rows:
            grid[row["expected"]][row["got"]] += row["count"]
            labels.update((row["expected"], row["got"]))
        ordered = sorted(labels)
        conf = Table(title=f"{field} 混淆表(行:标注,列:结果)")
        conf.add_column("标注\\结果")
        for label in ordered:
            conf.add_column(label, justify="right")
        for label in ordered:
            conf.add_row(label, *[str(grid[label][g] or "") for g in ordered])
        console.print(conf)
    if report.get("sealed"):
        console.print(f"未命中 {report['sealed']} 处(检验半只用于度量:只报总数,不列出具体通知)")
    elif report["misses"]:
        console.print(f"未命中 {len(report['misses'])} 处:")
        for miss in report["misses"]:
            ev = miss["evidence"]
            console.print(
                f"- {miss['id']} {miss['field']}:标注 {miss['expected']!r},结果 {miss['got']!r};"
                f"依据 {ev.get('rule', '')} {ev.get('words', [])} {ev.get('why', '')}\n  {miss['text'][:80]}"
            )
    for err in report["errors"]:
        console.print(f"- 第 {err['line']} 行:{err['error']}")


def handle_eval(args: argparse.Namespace, *, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    try:
        rules = rules_from_args(args)
    except RulesError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not args.file:
        print("请给出标注文件(格式同 tests/data/dev.jsonl),或用 --log 评估数据库中的人工更正。", file=sys.stderr)
        return 2
    path = Path(args.file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"无法读取标注文件 {path}:{exc}", file=sys.stderr)
        return 2
    halves: Sequence[str | None] = HALVES if getattr(args, "split", False) else (None,)
    folds = int(getattr(args, "folds", 0) or 0)
    if folds == 1 or folds < 0:
        print("--folds 应为 2 或更大的整数(0 表示不做交叉验证)。", file=sys.stderr)
        return 2
    if folds:
        reports = [cross_validate(lines, rules, folds=folds, half=half) for half in halves]
    else:
        reports = [evaluate(lines, rules, half=half) for half in halves]
    reports = [_sealed(r) if r.get("half") == "check" else r for r in reports]
    for report in reports:
        if args.json:
            out.write(json.dumps(report, ensure_ascii=False, default=str) + "\n")
        else:
            print_report(report, out)
    if len(reports) == 2 and not args.json:
        _print_gap(reports[0], reports[1], out)
    return 0


def _sealed(report: dict[str, Any]) -> dict[str, Any]:
    """The check half's report with totals only: no miss, no notice id (it is measured, never read)."""
    harm = {key: ["—"] * len(ids) for key, ids in report["harm"].items()}
    return {**report, "misses": [], "sealed": len(report["misses"]), "harm": harm}


def handle_examples(args: argparse.Namespace, *, stdout: TextIO | None = None) -> int:
    """Write the second opinion's examples: every case of FILES, the tune half of each --split file."""
    out = stdout or sys.stdout
    try:
        whole = [Path(p).read_text(encoding="utf-8").splitlines() for p in args.files]
        split = [Path(p).read_text(encoding="utf-8").splitlines() for p in args.split_files]
        rows = build_examples(whole, split)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"无法读取标注文件:{exc}", file=sys.stderr)
        return 2
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        print(f"标注文件中有无法读取的行:{exc};每行应是 dev.jsonl 格式的 JSON 对象", file=sys.stderr)
        return 2
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


def _print_gap(tune: dict[str, Any], check: dict[str, Any], out: TextIO) -> None:
    """One line a field: tune, check and check minus tune (the honest estimate on new notices)."""
    print("字段 调参半 检验半 差(检验-调参)", file=out)
    for field in EVAL_FIELDS:
        a, b = tune["accuracy"][field], check["accuracy"][field]
        if a is not None and b is not None:
            print(f"{field} {a:.3f} {b:.3f} {b - a:+.3f}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jianfu", description="减负通分类器")
    subparsers = parser.add_subparsers(dest="command", required=True)
    register(subparsers)
    args = parser.parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
