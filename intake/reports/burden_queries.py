"""The yearly report's own queries: what the monthly figures do not hold.

Task counts, assignments, hours, refused, unlisted, unfunded, short notice, duplicates and 重复采集
come from :mod:`intake.reports.figures` (F). These queries read the rest:

* **Q1** notices grouped by department, kind, nature, list item and form: the 事项 and the assist
  items that never came with funding;
* **Q3** certificates by name, list decision and department;
* **Q4** resends that ask for more or sooner than the original (再次下发时加码);
* **Q5** the platforms named in notices, by community;
* **Q6** the form catalogue (``intake.catalogue.queries``);
* **Q7** the notices quoted (``burden_quotes``);
* **Q8** 层层加码 along the forwarding chain: forwards flagged with an earlier deadline or added work, per
  forwarding office (read live over the year: only forwarded tasks, through their index);
* **C1**, **C2** counter work logged by communities, and its certificates (``counter_entries``; never kept:
  a head may undo a line).

Q1, Q3, Q4, Q5 and Q7 of the district's settled months are kept in ``month_rollups`` with the figures
(``burden_rollup``). ``_grouped`` groups over an inner select: PostgreSQL cannot match a repeated
expression with bound parameters (coalesce(department, $1)) between the select list and GROUP BY.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.reports.burden_model import Source
from intake.reports.burden_quotes import q7_quote_candidates
from intake.reports.measures import ESCALATED, NOT_WORKED, department_name
from intake.store.models import COUNTER_ENTRIES, DEPARTMENTS, STREETS, TASK_TARGETS, TASKS
from intake.store.models_catalogue import FORM_SENDS, PLATFORM_MENTIONS

__all__ = ["TITLES", "Statements", "task_filters", "q1_items", "q3_certificates", "q4_escalations", "q5_platforms", "q8_forwarding",
           "c1_counter", "c2_counter_certificates", "statements_for", "describe"]

Statements = Callable[[dt.datetime, dt.datetime], Mapping[str, Any]]

TITLES = {
    "F": "月度数字(intake/reports/figures.py,与月报、看板同一口径,按月汇总于 month_rollups):通知、派发、工时、"
         "拒收、未列入清单、费未随事转、临时急件、重复派发、重复采集,按部门、类型、社区",
    "Q1": "通知按部门、类型、性质、清单事项、表格、经费分组计数(事项;按月汇总)",
    "Q3": "证明类通知按证明名称、出具结论、部门计数(按月汇总)",
    "Q4": "再次下发时加码:截止提前或数量加大的重复通知",
    "Q5": "社区被要求录入的平台(通知×平台×社区,按月汇总)",
    "Q6": "报表目录:每张表的下发次数、填报社区数、填报份数",
    "Q7": "引用的通知:每类情形数量最大、时限最紧的通知(按月汇总)",
    "Q8": "层层加码:转发单位转发时提前截止时间或增加工作的通知(转发链,按转发单位及其街道)",
    "C1": "社区登记的窗口工作(证明、迎检、会议、借调、多平台录入),按社区、类型",
    "C2": "社区登记的证明,按证明事项、索取方、证明清单结论",
}


def task_filters(start: dt.datetime, end: dt.datetime, community_ids: Sequence[int] | None) -> list[Any]:
    where: list[Any] = [TASKS.c.received_at >= start, TASKS.c.received_at < end]
    if community_ids is not None:
        where.append(TASKS.c.id.in_(sa.select(TASK_TARGETS.c.task_id)
                                    .where(TASK_TARGETS.c.community_id.in_(community_ids))))
    return where


def _grouped(columns: dict[str, Any], where: Sequence[Any], *, joined: Any = TASKS) -> Any:
    inner = sa.select(*(col.label(name) for name, col in columns.items())).select_from(joined).where(*where).subquery()
    cols = list(inner.c)
    return sa.select(*cols, sa.func.count().label("n")).group_by(*cols)


def q1_items(where: Sequence[Any]) -> Any:
    """``form``: a notice with no list item sends a catalogued form; ``assist``: an assist notice that was
    worked (not refused or withdrawn); ``stopped``: refused because the catalogue stopped its form."""
    sends_form = sa.exists().where(FORM_SENDS.c.task_id == TASKS.c.id)
    return _grouped({
        "department": department_name(), "kind": TASKS.c.kind, "nature": TASKS.c.nature, "item": TASKS.c.item,
        "form": sa.case((TASKS.c.item.is_(None), sends_form), else_=sa.false()),
        "assist": sa.and_(TASKS.c.listing == "assist", TASKS.c.status.not_in(NOT_WORKED)),
        "funded": TASKS.c.funded, "stopped": TASKS.c.review_note.like("报表目录停用%"),
    }, where)


def q3_certificates(where: Sequence[Any]) -> Any:
    return _grouped({"name": TASKS.c.evidence["certificate"]["rule"].as_string(), "certificate": TASKS.c.certificate,
                     "department": department_name()}, [*where, TASKS.c.kind == "certificate"])


def q4_escalations(where: Sequence[Any]) -> Any:
    original = TASKS.alias("original")
    more = sa.or_(TASKS.c.deadline < original.c.deadline, TASKS.c.quantity_value > original.c.quantity_value)
    return (sa.select(TASKS.c.code, department_name().label("department"),
                      sa.func.substr(TASKS.c.raw_text, 1, 160).label("raw_text"), TASKS.c.deadline,
                      TASKS.c.quantity_value, original.c.code.label("original_code"),
                      original.c.deadline.label("original_deadline"),
                      original.c.quantity_value.label("original_quantity"))
            .select_from(TASKS.join(original, original.c.id == TASKS.c.duplicate_of)).where(*where, more)
            .order_by(TASKS.c.received_at))


def q8_forwarding(where: Sequence[Any]) -> Any:
    """层层加码 along the forwarding chain: forwards that set an earlier deadline than the issuer's or added work
    (``tasks.escalation``), each with its forwarding office and that office's street, oldest first. Reads the
    forwarded tasks only (``ix_tasks_forwarded_received``); a resend (duplicate) is counted once, as the digest does."""
    office = DEPARTMENTS.alias("office")
    return (sa.select(TASKS.c.code, sa.func.coalesce(office.c.name, TASKS.c.forwarded_by).label("office"),
                      STREETS.c.name.label("street"), department_name().label("department"),
                      sa.func.substr(TASKS.c.raw_text, 1, 160).label("raw_text"), TASKS.c.deadline,
                      TASKS.c.issuer_deadline, TASKS.c.escalation)
            .select_from(TASKS.outerjoin(office, office.c.id == TASKS.c.forwarded_by_id)
                         .outerjoin(STREETS, STREETS.c.id == office.c.street_id))
            .where(*where, TASKS.c.forwarded_by_id.is_not(None), ESCALATED, TASKS.c.duplicate_of.is_(None))
            .order_by(TASKS.c.received_at, TASKS.c.id))


def q5_platforms(start: dt.datetime, end: dt.datetime, community_ids: Sequence[int] | None) -> Any:
    joined = PLATFORM_MENTIONS.join(TASKS, TASKS.c.id == PLATFORM_MENTIONS.c.task_id).join(
        TASK_TARGETS, TASK_TARGETS.c.task_id == PLATFORM_MENTIONS.c.task_id)
    where = [PLATFORM_MENTIONS.c.received_at >= start, PLATFORM_MENTIONS.c.received_at < end]
    if community_ids is not None:
        where.append(TASK_TARGETS.c.community_id.in_(community_ids))
    return _grouped({"community_id": TASK_TARGETS.c.community_id, "platform_id": PLATFORM_MENTIONS.c.platform_id,
                     "department": department_name(), "item": TASKS.c.item, "kind": TASKS.c.kind}, where,
                    joined=joined)


def c1_counter(first: dt.date, last: dt.date, community_ids: Sequence[int] | None) -> Any:
    """Counter work by community and kind: ``entries`` lines, ``copies`` certificates (issued or refused),
    ``systems`` the systems named in 多平台录入 lines, ``people`` lent out (借调)."""
    c = COUNTER_ENTRIES.c
    where = [c.removed.is_(False), c.day >= first, c.day <= last]
    if community_ids is not None:
        where.append(c.community_id.in_(community_ids))
    return (sa.select(c.community_id, c.kind, sa.func.count().label("entries"),
                      sa.func.coalesce(sa.func.sum(c.count), 0).label("copies"),
                      sa.func.coalesce(sa.func.sum(c.systems), 0).label("systems"),
                      sa.func.coalesce(sa.func.sum(sa.func.coalesce(c.people, 1)), 0).label("people"))
            .where(*where).group_by(c.community_id, c.kind))


def c2_counter_certificates(first: dt.date, last: dt.date, community_ids: Sequence[int] | None) -> Any:
    """Certificates communities were asked for at the counter, by subject, who asked and the certificate
    list's decision (copies, issued or refused)."""
    c = COUNTER_ENTRIES.c
    where = [c.removed.is_(False), c.day >= first, c.day <= last, c.kind == "certificate"]
    if community_ids is not None:
        where.append(c.community_id.in_(community_ids))
    return (sa.select(c.subject.label("name"), c.decision.label("certificate"), c.party.label("department"),
                      sa.func.sum(c.count).label("n"))
            .where(*where).group_by(c.subject, c.decision, c.party))


def statements_for(community_ids: Sequence[int] | None) -> Statements:
    """The kept queries (Q1, Q3, Q4, Q5, Q7) of a period, for the district (None) or some communities."""

    def build(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        where = task_filters(start, end, community_ids)
        return {"Q1": q1_items(where), "Q3": q3_certificates(where), "Q4": q4_escalations(where),
                "Q5": q5_platforms(start, end, community_ids), "Q7": q7_quote_candidates(where)}

    return build


def describe(conn: AsyncConnection, qid: str, stmt: Any) -> Source:
    """A query as the appendix prints it: its SQL and parameters."""
    compiled = stmt.compile(dialect=conn.dialect)
    params = ", ".join(f"{k}={v!s}" for k, v in compiled.params.items())
    return Source(qid, TITLES[qid], " ".join(str(compiled).split()), params)
