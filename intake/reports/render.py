"""The digest as text and files: Markdown (the console page), chat text, JSON and an Excel workbook.

Renderers only read a :class:`~intake.reports.model.Digest`; they compute nothing the figures
do not already hold (the chart is in :mod:`intake.reports.chart`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from intake.labels import LISTING_ZH
from intake.reports import community as community_side
from intake.reports.model import DepartmentRow, Digest, HeatMap, KindRow, LeagueRow, RatingRow, Trend, share
from intake.reports.safety import neutralise_workbook
from intake.senders import truncate_utf8

__all__ = ["render_markdown", "render_chat_text", "to_json", "from_json", "write_xlsx", "pct"]


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _signed(value: float) -> str:
    return f"+{value:g}" if value > 0 else f"{value:g}"


def _quantities(row: KindRow) -> str:
    return "、".join(f"{v}{u}" for u, v in row.quantities) or "—"


TIMELINESS_ROWS = frozenset({"本月到期", "按时完成", "逾期完成", "逾期未完成", "未到期", "按时率"})


def _timeliness_lines(d: Digest) -> list[str]:
    """On-time and overdue figures belong to a community's own digest only: never in district views."""
    if d.is_district:
        return []
    return [f"- 本月到期 {d.due} 件:按时完成 {d.on_time},逾期完成 {d.late},逾期未完成 {d.overdue},"
            f"未到期 {d.not_yet_due}(按时率 {pct(d.on_time_rate)})"]


def render_markdown(digest: Digest) -> str:
    d = digest
    lines = [
        f"# {d.title}",
        "",
        f"- 收到任务 **{d.tasks}** 件" + (f"(派至各社区共 {d.assignments} 件次)" if d.is_district else ""),
        f"- 行政事务 {d.administrative} 件({pct(d.administrative_share)}),服务性事务 {d.service} 件"
        f"({pct(share(d.service, d.tasks))})",
        "- 准入:" + ",".join(f"{LISTING_ZH[k]} {v}" for k, v in d.listing),
        f"- 待审核 {d.pending_review} 件;费未随事转 {d.unfunded_assist} 件;临时急件 {d.short_notice} 件;"
        f"重复派发 {d.duplicates} 件;重复采集 {d.repeat_collection} 件",
        *_timeliness_lines(d),
        *(["- 层层加码(转发时提前截止或增加工作):" + ",".join(f"{o} {n} 件" for o, n in d.escalations)]
          if d.escalations else []),
        f"- 估算工作量 {d.estimated_hours:g} 小时 / 人力 {d.capacity_hours:g} 小时({d.staff} 人),"
        f"占 {pct(d.load_ratio)}",
        f"- 较 {d.trend.month}:任务 {_signed(d.trend.tasks_change)} 件,工时 {_signed(d.trend.hours_change)} 小时",
        "",
        "## 按类型",
        "",
        "| 类型 | 件数 | 数量 | 估算工时 |",
        "|---|---:|---|---:|",
        *(f"| {r.label} | {r.tasks} | {_quantities(r)} | {r.hours:g} |" for r in d.by_kind),
        "",
        "## 按部门",
        "",
        "| 部门 | 件数 | 行政事务 | 被拒收 | 估算工时 |",
        "|---|---:|---:|---:|---:|",
        *(f"| {r.department} | {r.tasks} | {r.administrative} | {r.refused} | {r.hours:g} |" for r in d.by_department),
        "",
        "## 负担最重的部门",
        "",
        *(f"{i}. {r.department}:{r.hours:g} 小时,{r.tasks} 件" for i, r in enumerate(d.top_departments, 1)),
    ]
    lines += community_side.render_markdown_lines(d.community)
    if d.unfunded_codes:
        lines += ["", "## 费未随事转", "", "、".join(d.unfunded_codes)]
    if d.ratings:
        lines += ["", "## 部门评价", "", "| 部门 | 平均分 | 评价数 |", "|---|---:|---:|",
                  *(f"| {r.department} | {r.average:g} | {r.count} |" for r in d.ratings)]
    if d.league:
        lines += [
            "", "## 部门排行", "",
            "| 部门 | 件数 | 被拒收 | 拒收率 | 费未随事转 | 临时急件 | 重复派发 | 重复采集 | 工时 | 评分 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(f"| {r.department} | {r.tasks} | {r.refused} | {pct(r.refused_share)} | {r.unfunded} | "
              f"{r.short_notice} | {r.duplicates} | {r.repeat_collection} | {r.hours:g} | "
              f"{'—' if r.rating is None else f'{r.rating:g}'} |" for r in d.league),
        ]
    if d.heatmap and d.heatmap.departments:
        hm = d.heatmap
        lines += ["", "## 社区 × 部门", "", "| 社区 | " + " | ".join(hm.departments) + " |",
                  "|---|" + "---:|" * len(hm.departments),
                  *(f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(hm.communities, hm.cells, strict=True))]
    return "\n".join(lines) + "\n"


def render_chat_text(digest: Digest, *, limit_bytes: int = 2000, link: str = "") -> str:
    """A short digest for a chat message; always within `limit_bytes` UTF-8 bytes, link kept whole."""
    d = digest
    lines = [
        f"【{d.title}】",
        f"收到任务 {d.tasks} 件,行政事务占 {pct(d.administrative_share)};"
        f"估算 {d.estimated_hours:g} 小时,占人力 {pct(d.load_ratio)}。",
        "准入:" + ",".join(f"{LISTING_ZH[k]}{v}" for k, v in d.listing) + "。",
        f"费未随事转 {d.unfunded_assist},临时急件 {d.short_notice},重复派发 {d.duplicates},重复采集 {d.repeat_collection}。",
        *([] if d.is_district else
          [f"到期 {d.due} 件,按时率 {pct(d.on_time_rate)},逾期未完成 {d.overdue},未到期 {d.not_yet_due}。"]),
        *community_side.chat_lines(d.community),
        f"较上月:任务 {_signed(d.trend.tasks_change)},工时 {_signed(d.trend.hours_change)}。",
    ]
    if d.top_departments:
        lines.append("负担最重:" + "、".join(f"{r.department}({r.tasks}件)" for r in d.top_departments[:3]) + "。")
    if d.by_kind:
        lines.append("类型:" + "、".join(f"{r.label}{r.tasks}" for r in d.by_kind[:6]) + "。")
    tail = f"\n完整月报:{link}" if link else ""
    room = limit_bytes - len(tail.encode("utf-8"))
    if room <= 0:
        return truncate_utf8(tail.strip(), limit_bytes)
    return truncate_utf8("\n".join(lines), room) + tail


def to_json(digest: Digest) -> dict[str, Any]:
    data = dataclasses.asdict(digest)
    data["administrative_share"] = digest.administrative_share
    data["on_time_rate"] = digest.on_time_rate
    data["load_ratio"] = digest.load_ratio
    data["title"] = digest.title
    data["listing"] = dict(digest.listing)
    for row in data["by_kind"]:
        row["quantities"] = dict(row["quantities"])
    if digest.is_district:  # on-time figures belong to a community's own digest only
        for key in ("due", "on_time", "late", "overdue", "not_yet_due", "on_time_rate"):
            del data[key]
    result: dict[str, Any] = json.loads(json.dumps(data, ensure_ascii=False))
    return result


def from_json(data: dict[str, Any]) -> Digest:
    """The digest :func:`to_json` stored (the ``digests`` archive), for its page, chart and workbook. An area's
    digest comes back without the on-time figures to_json leaves out (no renderer shows them for an area)."""
    from intake.reports.community import BypassRow, CommunitySide, CounterFigures

    def rows(cls: Any, key: str) -> tuple[Any, ...]:
        return tuple(cls(**row) for row in data.get(key) or ())

    side = data.get("community")
    heatmap = data.get("heatmap")
    fields = {f.name for f in dataclasses.fields(Digest)}
    plain = {k: v for k, v in data.items() if k in fields}
    return Digest(**{
        **plain, **{k: 0 for k in ("due", "on_time", "late", "overdue", "not_yet_due") if k not in data},
        "listing": tuple(dict(data["listing"]).items()), "unfunded_codes": tuple(data["unfunded_codes"]),
        "by_department": rows(DepartmentRow, "by_department"), "top_departments": rows(DepartmentRow, "top_departments"),
        "by_kind": tuple(KindRow(**{**r, "quantities": tuple(dict(r["quantities"]).items())}) for r in data["by_kind"]),
        "ratings": rows(RatingRow, "ratings"), "league": rows(LeagueRow, "league"), "trend": Trend(**data["trend"]),
        "heatmap": None if heatmap is None else HeatMap(
            communities=tuple(heatmap["communities"]), departments=tuple(heatmap["departments"]),
            cells=tuple(tuple(r) for r in heatmap["cells"])),
        "community": None if side is None else CommunitySide(
            reported_tasks=side["reported_tasks"], linked_reports=side["linked_reports"],
            counter=CounterFigures(**side["counter"]), bypass=tuple(BypassRow(**b) for b in side["bypass"]),
            trace_demands=tuple((str(n), int(c)) for n, c in side["trace_demands"])),
        "escalations": tuple((str(o), int(n)) for o, n in data.get("escalations") or ()),
    })


def write_xlsx(digest: Digest, path: str | Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    d = digest
    wb = Workbook()
    ws = wb.active
    ws.title = "概览"
    overview: list[tuple[str, Any]] = [
        ("月报", d.title), ("月份", d.month), ("范围", d.scope), ("收到任务", d.tasks), ("派发件次", d.assignments),
        ("行政事务", d.administrative), ("服务性事务", d.service), ("行政事务占比", d.administrative_share),
        *((LISTING_ZH[k], v) for k, v in d.listing),
        ("待审核", d.pending_review), ("费未随事转", d.unfunded_assist), ("临时急件", d.short_notice),
        ("重复派发", d.duplicates), ("重复采集", d.repeat_collection), ("本月到期", d.due), ("按时完成", d.on_time),
        ("逾期完成", d.late), ("逾期未完成", d.overdue), ("未到期", d.not_yet_due), ("按时率", d.on_time_rate), ("估算工时", d.estimated_hours),
        ("人力工时", d.capacity_hours), ("工作量占比", d.load_ratio), ("上月任务", d.trend.tasks),
        ("上月工时", d.trend.hours),
    ]
    for row in overview:
        if not (d.is_district and row[0] in TIMELINESS_ROWS):  # a community's own figures only
            ws.append(list(row))
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 28

    def sheet(title: str, header: list[str], rows: list[list[Any]]) -> None:
        s = wb.create_sheet(title)
        s.append(header)
        for cell in s[1]:
            cell.font = Font(bold=True)
        for r in rows:
            s.append(r)
        s.freeze_panes = "A2"

    sheet("按类型", ["类型", "代码", "件数", "数量", "估算工时"],
          [[r.label, r.kind, r.tasks, _quantities(r), r.hours] for r in d.by_kind])
    sheet("按部门", ["部门", "件数", "行政事务", "被拒收", "估算工时"],
          [[r.department, r.tasks, r.administrative, r.refused, r.hours] for r in d.by_department])
    sheet("评价", ["部门", "平均分", "评价数"], [[r.department, r.average, r.count] for r in d.ratings])
    sheet("社区报送与窗口工作", ["项目", "数量"], community_side.sheet_rows(d.community))
    if d.league:
        sheet("部门排行", ["部门", "件数", "被拒收", "拒收率", "费未随事转", "临时急件", "重复派发", "重复采集", "工时", "评分"],
              [[r.department, r.tasks, r.refused, r.refused_share, r.unfunded, r.short_notice, r.duplicates,
                r.repeat_collection, r.hours, r.rating] for r in d.league])
    if d.heatmap:
        sheet("社区×部门", ["社区", *d.heatmap.departments],
              [[c, *row] for c, row in zip(d.heatmap.communities, d.heatmap.cells, strict=True)])
    neutralise_workbook(wb)  # department and community names come from outside
    wb.save(path)
    return path


