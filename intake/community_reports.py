"""Notices that reached a community outside Jianfu (a work group, a phone call, paper), reported by its head.

A report is read exactly like a department's notice and logged as a task whose source is the community.
When it matches a task already logged (same department, near-identical text, within 30 days: the resend
test of :meth:`IntakeMemory.find_duplicate`), it is linked to that task instead, so nothing is counted
twice: the community becomes one of that task's targets if it was not already. Every report is kept in
``task_reports`` with its text, whichever way it went, so nothing is lost while the issuer is asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Classification
from intake.accounts import AccountView, get_or_add_department
from intake.audit import add_audit
from intake.errors import Forbidden
from intake.settings import IntakeSettings
from intake.store.models import TASK_REPORTS, TaskSource
from intake.store.recent import IntakeMemory
from intake.tasks import NewTask, TaskView, create_task, get_task, link_community_target

__all__ = ["ReportResult", "PendingReport", "add_report", "get_pending_report", "file_report"]


@dataclass(frozen=True)
class PendingReport:
    id: int
    msg_id: str
    raw_text: str
    received_at: dt.datetime


@dataclass(frozen=True)
class ReportResult:
    task: TaskView
    linked: bool  # counted under a task already logged (``task``), not as a new one
    new: NewTask | None


async def add_report(
    conn: AsyncConnection, *, account: AccountView, text: str, msg_id: str, received_at: dt.datetime
) -> PendingReport:
    """Keep the reported text before anything else (it is filed at once, or after the issuer is named)."""
    if account.community_id is None:
        raise Forbidden("只有绑定社区的账号可以报送通知。")
    report_id = (
        await conn.execute(
            sa.insert(TASK_REPORTS).values(
                task_id=None, community_id=account.community_id, account_id=account.id, msg_id=msg_id,
                raw_text=text, linked=False, received_at=received_at,
            ).returning(TASK_REPORTS.c.id)
        )
    ).scalar_one()
    return PendingReport(id=int(report_id), msg_id=msg_id, raw_text=text, received_at=received_at)


async def get_pending_report(conn: AsyncConnection, *, report_id: int) -> PendingReport | None:
    """A report not filed yet (its issuer is being asked for), or None."""
    row = (
        await conn.execute(
            sa.select(TASK_REPORTS).where(TASK_REPORTS.c.id == report_id, TASK_REPORTS.c.task_id.is_(None))
        )
    ).first()
    if row is None:
        return None
    return PendingReport(id=int(row.id), msg_id=row.msg_id, raw_text=row.raw_text, received_at=row.received_at)


async def file_report(
    conn: AsyncConnection, *, account: AccountView, report: PendingReport, classification: Classification,
    settings: IntakeSettings, memory: IntakeMemory,
) -> ReportResult:
    """Link the report to the task it repeats, or log it as a new task reported by the community."""
    assert account.community_id is not None and account.community is not None
    c = classification
    department_id = None
    if c.department:
        department_id = await get_or_add_department(conn, name=c.department, district_id=account.district_id,
                                                    city=c.issuer_city)
    match = memory.find_duplicate(department_id=department_id, text=report.raw_text, now=report.received_at)
    if match is not None:
        await link_community_target(conn, account=account, task_id=match[0], now=report.received_at)
        await conn.execute(sa.update(TASK_REPORTS).where(TASK_REPORTS.c.id == report.id)
                           .values(task_id=match[0], linked=True))
        await add_audit(conn, actor=f"account:{account.id}", entity="task", entity_id=match[0], action="reported",
                        after={"community": account.community, "linked": True}, now=report.received_at)
        return ReportResult(task=await get_task(conn, code=match[1]), linked=True, new=None)
    new = await create_task(
        conn, account=account, classification=c, msg_id=report.msg_id, channel=account.channel, text=report.raw_text,
        received_at=report.received_at, settings=settings, memory=memory, source=TaskSource.community.value,
        community_ids=[(account.community_id, account.community)],
    )
    await conn.execute(sa.update(TASK_REPORTS).where(TASK_REPORTS.c.id == report.id).values(task_id=new.task.id))
    return ReportResult(task=new.task, linked=False, new=new)
