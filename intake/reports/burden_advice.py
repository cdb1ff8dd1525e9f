"""对策建议 generated from the report's figures: each recommendation names the departments, forms,
certificates, items or platforms that caused it, and exists only when its figure is not zero.
"""

from __future__ import annotations

from typing import Any

from intake.reports.burden_model import BurdenReport, Quote, Recommendation
from intake.reports.burden_texts import ADVICE, CERT_DECISION_ZH, NOTE
from intake.texts_notify import summarise

__all__ = ["recommend", "escalation_quote", "percent", "names"]

MAX_PER_TOPIC = 3


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def names(pairs: tuple[tuple[str, int], ...], n: int = 3) -> str:
    return "、".join(f"{name}({count})" for name, count in pairs[:n]) or NOTE["none"]


def escalation_quote(row: Any) -> Quote:
    note = NOTE["escalation"].format(
        code=row.code, deadline=row.deadline or "—", original_code=row.original_code,
        original_deadline=row.original_deadline or "—", quantity=row.quantity_value or "—",
        original_quantity=row.original_quantity or "—",
    )
    return Quote(code=row.code, department=row.department, text=summarise(row.raw_text, limit=80), note=note)


def _advice(key: str, source: str, **values: Any) -> Recommendation:
    topic, text = ADVICE[key]
    return Recommendation(topic=topic, text=text.format(**values), source=source)


def _admission(report: BurdenReport) -> list[Recommendation]:
    out = []
    if report.unlisted:
        out.append(_advice("admission", "F", departments=names(report.unlisted_by_department), n=report.unlisted))
    if report.refused:
        out.append(_advice("negative", "F", departments=names(report.refused_by_department), n=report.refused))
    return out


def _forms(report: BurdenReport) -> list[Recommendation]:
    pending = [r for r in report.form_repeats if r.decision in ("pending", "keep")]
    return [_advice("merge", "Q6", form=r.form, department=r.department or NOTE["none"], total=r.total,
                    shared=r.shared, earlier=r.earlier, earlier_department=r.earlier_department or NOTE["none"])
            for r in sorted(pending, key=lambda r: -r.shared)[:MAX_PER_TOPIC]]


def _certificates(report: BurdenReport) -> list[Recommendation]:
    against = [c for c in report.certificates if c.decision in ("refuse", "unknown")]
    return [_advice("certificate", "Q3、C2", name=c.name, n=c.requests, decision=CERT_DECISION_ZH[c.decision],
                    departments="、".join(c.departments))
            for c in against[:MAX_PER_TOPIC]]


def _funding(report: BurdenReport) -> list[Recommendation]:
    return [_advice("funding", "Q1", item=u.item, text=f" {u.text}" if u.text else "", department=u.department,
                    n=u.tasks)
            for u in report.unfunded_items[:MAX_PER_TOPIC]]


def _platforms(report: BurdenReport) -> list[Recommendation]:
    repeated = [p for p in report.platforms if p.repeated_data]
    if not repeated:
        return []
    first = repeated[0]
    data, platforms = first.repeated_data[0]
    return [_advice("platform", "Q5", n=len(repeated), community=first.community, data=data,
                    platforms="、".join(platforms))]


def _forwarding(report: BurdenReport) -> list[Recommendation]:
    if not report.forwarding:
        return []
    offices = names(tuple((f.office, f.escalated) for f in report.forwarding))
    days = max(f.most_days for f in report.forwarding)
    return [_advice("forwarding", "Q8", offices=offices, n=report.forwarding_total,
                    most=f",最多提前{days}天" if days else "")]


def _timing(report: BurdenReport) -> list[Recommendation]:
    if not report.short_by_department:
        return []
    department, n = report.short_by_department[0]
    return [_advice("short", "F", department=department, n=n)]


def _gatherings(report: BurdenReport) -> list[Recommendation]:
    out = []
    for key in ("inspection", "meeting"):
        count = report.count(key)
        if count.total and count.top_departments:
            department, n = count.top_departments[0]
            out.append(_advice(key, count.source, per=count.per_community, department=department,
                               share=percent(n / count.total)))
    return out


def recommend(report: BurdenReport) -> tuple[Recommendation, ...]:
    """Every recommendation the figures support, in the field reports' order."""
    return tuple(
        _admission(report) + _funding(report) + _certificates(report) + _forms(report) + _platforms(report)
        + _gatherings(report) + _forwarding(report) + _timing(report)
    )
