"""The community head's side of the conversation: reading tasks, quieting reminders, reporting notices that
reached the community elsewhere, and logging counter work in one line.

Handlers take the same arguments as those of :mod:`bot.chat.dialogue` and return the reply text; they run
inside the writer unit, so a message is handled completely or not at all.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.chat import texts
from classifiers import Classification, classify
from intake.accounts import AccountView, clear_dialogue, set_dialogue
from intake.community_reports import PendingReport, add_report, file_report, get_pending_report
from intake.counter import (
    CounterFormatError,
    add_counter_entry,
    parse_counter_line,
    resolve_department,
    undo_last_entry,
)
from intake.tasks import get_community_task, quiet_target

if TYPE_CHECKING:
    from bot.chat.dialogue import DialogueContext, Incoming

__all__ = [
    "AWAITING_ISSUER",
    "handle_head_query",
    "handle_quiet",
    "handle_counter",
    "handle_undo",
    "handle_head_text",
]

AWAITING_ISSUER = "awaiting_issuer"
ISSUER_ANSWER_MAX_CHARS = 20
UNKNOWN_ISSUER_WORDS = frozenset({"不清楚", "不知道", "不详", "未知", "没写"})
MIN_REPORT_CHARS = 12  # shorter texts are chat, answered with help, not logged as notices


async def handle_head_query(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, code: str) -> str:
    task = await get_community_task(conn, account=account, code=code)
    return texts.build_task_for_head(task, item_text=texts.item_wording(ctx.rules, task.item))


async def handle_quiet(
    ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]
) -> str:
    code = m.group(1) or m.group(2)
    if not code:
        return texts.NEEDS_CODE.format(verb="不再提醒")
    task = await quiet_target(conn, account=account, code=code, now=msg.received_at)
    return texts.build_quieted(task)


def _local_day(ctx: DialogueContext, when: dt.datetime) -> dt.date:
    return when.astimezone(ctx.settings.tz).date()


async def handle_counter(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming,
                         text: str) -> str:
    try:
        line = parse_counter_line(text)
    except CounterFormatError as exc:
        return texts.build_counter_format_error(exc.kind.value, exc.problem)
    entry = await add_counter_entry(conn, account=account, line=line, raw_text=text, rules=ctx.rules,
                                    now=msg.received_at, day=_local_day(ctx, msg.received_at))
    return texts.build_counter_logged(entry)


async def handle_undo(
    ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]
) -> str:
    entry = await undo_last_entry(conn, account=account, now=msg.received_at)
    return texts.NOTHING_TO_UNDO if entry is None else texts.build_undone(entry)


async def _file(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, report: PendingReport,
                classification: Classification) -> str:
    result = await file_report(conn, account=account, report=report, classification=classification,
                               settings=ctx.settings, memory=ctx.memory)
    return texts.build_report_receipt(result, item_text=texts.item_wording(ctx.rules, result.task.item))


async def _answer_issuer(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming,
                         text: str) -> str | None:
    """The answer to "which department sent it?", or None when the message is not one (a new notice)."""
    assert account.dialogue_task_id is not None
    report = await get_pending_report(conn, report_id=account.dialogue_task_id)
    if report is None:
        await clear_dialogue(conn, account_id=account.id)
        return None
    department = None if text in UNKNOWN_ISSUER_WORDS else resolve_department(ctx.rules, text)
    if department is None and text not in UNKNOWN_ISSUER_WORDS:
        if len(text) > ISSUER_ANSWER_MAX_CHARS:
            return None
        return texts.issuer_not_found(text)
    await clear_dialogue(conn, account_id=account.id)
    classification = classify(report.raw_text, now=report.received_at, sender_department=department,
                              rules=ctx.rules)
    return await _file(ctx, conn, account, report, classification)


async def _file_unanswered(ctx: DialogueContext, conn: AsyncConnection, account: AccountView) -> str:
    """A report whose issuer question went unanswered is filed without a department (nothing is lost)."""
    await clear_dialogue(conn, account_id=account.id)
    if account.dialogue_task_id is None:
        return ""
    report = await get_pending_report(conn, report_id=account.dialogue_task_id)
    if report is None:
        return ""
    classification = classify(report.raw_text, now=report.received_at, sender_department=None, rules=ctx.rules)
    return await _file(ctx, conn, account, report, classification) + "\n\n"


async def handle_head_text(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming,
                           text: str) -> str:
    """Anything a head sends that is not a command: an issuer answer, a reported notice, or chat (help)."""
    earlier = ""
    if account.dialogue_state == AWAITING_ISSUER:
        if account.dialogue_expires_at is not None and account.dialogue_expires_at > msg.received_at:
            answer = await _answer_issuer(ctx, conn, account, msg, text)
            if answer is not None:
                return answer
        earlier = await _file_unanswered(ctx, conn, account)
    if len(text) < MIN_REPORT_CHARS:
        return earlier + texts.build_help(account, ctx.settings.server.public_url)
    report = await add_report(conn, account=account, text=msg.text, msg_id=msg.msg_id, received_at=msg.received_at)
    classification = classify(msg.text, now=msg.received_at, sender_department=None, rules=ctx.rules)
    if classification.department is None:
        await set_dialogue(
            conn, account_id=account.id, state=AWAITING_ISSUER, task_id=report.id,
            expires_at=msg.received_at + dt.timedelta(minutes=ctx.settings.dialogue.timeout_minutes),
        )
        return earlier + texts.ASK_ISSUER
    return earlier + await _file(ctx, conn, account, report, classification)
