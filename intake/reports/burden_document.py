"""The report as a list of blocks (headings, paragraphs, tables, the chart), written once and rendered
as Markdown, Word and PDF by ``burden_render`` and ``burden_pdf``: the three formats say the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.catalogue.texts import RECURRENCE_ZH
from intake.reports.burden_advice import names, percent
from intake.reports.burden_model import BurdenReport, Quote
from intake.reports.burden_texts import CERT_DECISION_ZH, DECISION_ZH, HEADINGS, NOTE

__all__ = ["Heading", "Paragraph", "Table", "Chart", "Block", "build_blocks"]

TOP_ROWS = 15


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str
    quote: bool = False  # a notice quoted as evidence
    code: bool = False  # SQL of the appendix


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    caption: str


Block = Heading | Paragraph | Table | Chart


def _quotes(quotes: tuple[Quote, ...]) -> list[Block]:
    return [Paragraph(f"{q.code}({q.department}):{q.text}" + (f"({q.note})" if q.note else ""), quote=True)
            for q in quotes]


def _basic(r: BurdenReport) -> list[Block]:
    blocks: list[Block] = [
        Heading(1, HEADINGS["basic"]),
        Paragraph(NOTE["intro"].format(year=r.year, scope=r.scope_name, communities=r.communities)),
        Heading(2, HEADINGS["items"]),
        Paragraph(NOTE["items"].format(departments=len(r.departments), tasks=r.tasks, assignments=r.assignments,
                                       items=r.items, admin=r.administrative_items,
                                       share=percent(r.administrative_share)) + "(F、Q1、Q6)"),
        Paragraph(NOTE["hours"].format(hours=f"{r.hours:g}", per=f"{r.hours / r.communities:.1f}") + "(F)"),
        Table(("部门", "事项", "其中行政事务", "通知(件)", "派发(件次)"),
              tuple((d.department, str(d.items), str(d.administrative_items), str(d.tasks), str(d.assignments))
                    for d in r.departments[:TOP_ROWS])),
        Table(("任务类型", "通知(件)", "派发(件次)"), tuple((label, str(t), str(a)) for _, label, t, a in r.kinds)),
        Heading(2, HEADINGS["seven"]),
        Table(("项目", "全年合计", "其中通知", "社区登记", "每社区平均", "最多的社区", "主要来源部门", "来源"),
              tuple((c.label, f"{c.total}{c.unit}", str(c.notices), str(c.counter), f"{c.per_community:g}",
                     f"{c.most[0]}({c.most[1]})", names(c.top_departments), c.source) for c in r.seven)),
        Paragraph(NOTE["counter"].format(platform=r.count("platform").counter, seconded=r.seconded_people) + "(C1)"),
        Chart("图1 各部门事项(行政事务/服务性事务)与每社区“七多”计数"),
        Heading(2, HEADINGS["forms"]),
        Paragraph(NOTE["forms"].format(forms=len(r.forms), submissions=r.form_submissions,
                                       repeats=len(r.form_repeats)) + "(Q6)"),
    ]
    if r.forms:
        blocks.append(Table(("表格", "部门", "字段数", "周期", "下发次数", "填报社区", "填报份数", "目录决定"),
                            tuple((f"《{f.name}》", f.department or "—", str(len(f.fields)),
                                   RECURRENCE_ZH.get(f.recurrence or "", f"全年{f.sends}次"), str(f.sends), str(f.communities),
                                   str(f.submissions), DECISION_ZH.get(f.decision, f.decision))
                                  for f in r.forms[:TOP_ROWS])))
    blocks += [Heading(2, HEADINGS["platforms"]),
               Paragraph(NOTE["platforms"].format(platforms=r.count("platform").total,
                                                  per=r.count("platform").per_community) + "(Q5)")]
    if r.platforms:
        blocks.append(Table(("社区", "平台数", "平台", "录入多个平台的数据"),
                            tuple((p.community, str(p.platforms), "、".join(p.names),
                                   ";".join(f"{d}→{'、'.join(ps)}" for d, ps in p.repeated_data) or "—")
                                  for p in r.platforms[:TOP_ROWS])))
    return blocks


def _problems(r: BurdenReport) -> list[Block]:
    blocks: list[Block] = [Heading(1, HEADINGS["problems"])]
    for i, c in enumerate(r.seven, start=1):
        blocks.append(Heading(2, f"({i}){c.label}多"))
        if not c.total:
            blocks.append(Paragraph(NOTE["seven_none"].format(label=c.label) + f"({c.source})"))
            continue
        counter = NOTE["seven_counter"].format(notices=c.notices, counter=c.counter, unit=c.unit) \
            if c.counter and c.key != "platform" else ""
        blocks.append(Paragraph(NOTE["seven_total"].format(label=c.label, total=c.total, unit=c.unit,
                                                           per=c.per_community, most=c.most[0], most_n=c.most[1])
                                + counter + (f"通知主要来自{names(c.top_departments)}。" if c.top_departments else "")
                                + f"({c.source})"))
        blocks += _quotes(c.quotes)
    blocks.append(Heading(2, "(八)拒收、准入、经费、时限与重复"))
    blocks.append(Paragraph(NOTE["refused"].format(n=r.refused, departments=names(r.refused_by_department))
                            + (NOTE["stopped"].format(n=r.stopped_forms_refused) if r.stopped_forms_refused else "")
                            + "(F、Q1)"))
    blocks += _quotes(r.refused_quotes)
    blocks.append(Paragraph(NOTE["unlisted"].format(n=r.unlisted, departments=names(r.unlisted_by_department))
                            + "(F)"))
    blocks.append(Paragraph(NOTE["unfunded"].format(n=r.unfunded) + "(F)"))
    blocks += _quotes(r.unfunded_quotes)
    blocks.append(Paragraph(NOTE["short"].format(n=r.short_notice) + "(F)"))
    blocks += _quotes(r.short_quotes)
    blocks.append(Paragraph(NOTE["duplicates"].format(n=r.duplicates, escalations=r.escalations) + "(F、Q4)"))
    blocks += _quotes(r.escalation_quotes)
    blocks += _forwarding(r)
    blocks.append(Paragraph(NOTE["repeat"].format(n=r.repeat_collection, forms=len(r.form_repeats)) + "(F、Q6)"))
    blocks += [Paragraph(NOTE["form_repeat"].format(
        form=f.form, department=f.department or "—", total=f.total, shared=f.shared, earlier=f.earlier,
        earlier_department=f.earlier_department or "—", decision=DECISION_ZH.get(f.decision, f.decision)),
        quote=True) for f in r.form_repeats[:TOP_ROWS]]
    if r.certificates:
        blocks.append(Table(("证明", "清单结论", "要求次数", "要求部门"),
                            tuple((c.name, CERT_DECISION_ZH.get(c.decision, c.decision), str(c.requests),
                                   "、".join(c.departments)) for c in r.certificates[:TOP_ROWS])))
    return blocks


def _forwarding(r: BurdenReport) -> list[Block]:
    """层层加码 along the forwarding chain, per forwarding office, with the worst cases quoted (Q8)."""
    if not r.forwarding:
        return [Paragraph(NOTE["forwarding_none"] + "(Q8)")]
    offices = ";".join(NOTE["forwarding_office"].format(
        office=f.office, n=f.escalated, earlier=f.earlier, work=f.added_work,
        most=NOTE["forwarding_most"].format(days=f.most_days) if f.most_days else "") for f in r.forwarding[:TOP_ROWS])
    return [Paragraph(NOTE["forwarding"].format(n=r.forwarding_total, offices=offices) + "(Q8)"),
            *_quotes(r.forwarding_quotes)]


def _advice(r: BurdenReport) -> list[Block]:
    blocks: list[Block] = [Heading(1, HEADINGS["advice"])]
    if not r.recommendations:
        blocks.append(Paragraph("全年数据中没有需要提出对策的问题。"))
    blocks += [Paragraph(f"{i}. {rec.topic}:{rec.text}({rec.source})")
               for i, rec in enumerate(r.recommendations, start=1)]
    return blocks


def _sources(r: BurdenReport) -> list[Block]:
    """Each query with its SQL and parameters (paragraphs: a statement can be longer than a page's table row)."""
    blocks: list[Block] = [Heading(1, HEADINGS["sources"])]
    for s in r.sources:
        blocks += [Heading(2, f"{s.id} {s.title}"), Paragraph(s.sql, code=True)]
        if s.params:
            blocks.append(Paragraph(f"参数:{s.params}", code=True))
    return blocks


def build_blocks(report: BurdenReport) -> list[Block]:
    """The whole report, in the field reports' order: 基本情况, 存在问题, 对策建议, then the queries."""
    return [Heading(0, report.title), *_basic(report), *_problems(report), *_advice(report), *_sources(report)]
