"""The conversation: chat commands, roles and the one-question dialogue state, as a table of routes.

Everything here runs inside a writer unit (one transaction per batch, one
savepoint per message), so a message is handled completely or not at all, and
messages from one account are handled one at a time (the writer is the per-user
lock). Each handler is a small coroutine that returns the reply text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.chat import texts, texts_media
from bot.chat.community import handle_counter, handle_head_query, handle_head_text, handle_quiet, handle_undo
from bot.settings import Settings
from classifiers import Classification, Rules, classify
from intake.accounts import (
    AccountView,
    BindRefused,
    bind_account,
    clear_dialogue,
    deactivate_account,
    get_account,
    set_dialogue,
    touch_account,
)
from intake.counter import is_counter_line, resolve_department
from intake.errors import Forbidden, IntakeError, InvalidRequest, NotFound
from intake.links import build_upload_link, derive_link_secret
from intake.media.errors import human_bytes
from intake.ratings import rate_department
from intake.sources import NoticeSource, get_task_code_by_original
from intake.store.models import Role
from intake.store.recent import IntakeMemory
from intake.tasks import (
    NO_FUNDING_ANSWERS,
    complete_target,
    create_task,
    get_task,
    list_clerk_tasks,
    list_community_targets,
    needs_funding_answer,
    set_task_deadline,
    set_task_funding,
    withdraw_task,
)
from intake.uploads import add_upload_ticket

__all__ = ["Ahead", "Incoming", "DialogueContext", "normalize", "is_command", "handle_text", "handle_event"]

AWAITING_DEADLINE = "awaiting_deadline"
AWAITING_FUNDING = "awaiting_funding"
FUNDING_ANSWER_MAX_CHARS = 60
FUNDING_ANSWER_SHORT = 30
# last_seen_at opens WeChat's 48-hour window for customer-service messages; minutes of slack are fine
LAST_SEEN_RESOLUTION = dt.timedelta(minutes=10)
DEADLINE_ANSWER_MAX_CHARS = 30


@dataclass(frozen=True)
class Incoming:
    channel: str  # "wechat" | "wecom"
    external_id: str  # OpenID / UserID
    text: str
    msg_id: str
    received_at: dt.datetime
    source: NoticeSource | None = None  # None: typed; else speech, a picture, a file or a link (intake.sources)
    reply_to: str | None = None  # the WeCom bot's response_url of this message (an upload's receipt goes there)


@dataclass(frozen=True)
class DialogueContext:
    settings: Settings
    rules: Rules  # the city default; a message is read with its sender's district's (for_district)
    memory: IntakeMemory
    district_rules: Callable[[int | None], Rules] | None = None  # RulesProvider.for_district

    def for_district(self, district_id: int | None) -> DialogueContext:
        """This context with the rules of `district_id` (its own lists over the city default's)."""
        rules = self.district_rules(district_id) if self.district_rules is not None else self.rules
        return self if rules is self.rules else replace(self, rules=rules)


Handler = Callable[[DialogueContext, AsyncConnection, AccountView, Incoming, "re.Match[str]"], Awaitable[str]]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    roles: frozenset[str] | None  # None: anyone, bound or not
    handler: Handler


_FOLD = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in range(ord("！"), ord("～") + 1) if chr(c).isalnum()}
    | {"－": "-", "—": "-", "\u3000": " "}
)


def normalize(text: str) -> str:
    """Full-width spaces and runs of whitespace become one space; full-width letters/digits fold to ASCII."""
    return " ".join(text.translate(_FOLD).split())


async def handle_bind(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    code = m.group(1).upper()
    try:
        result = await bind_account(conn, channel=msg.channel, external_id=msg.external_id, code=code, now=msg.received_at)
    except BindRefused as exc:
        if exc.retry_at is not None:
            return texts.bind_wait(exc.retry_at, msg.received_at)
        return texts.INVITE_REFUSED
    except Forbidden:
        return texts.INACTIVE
    return texts.build_bound(result, ctx.settings.server.public_url)


async def handle_help(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    return texts.build_help(account, ctx.settings.server.public_url)


async def handle_query(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    code = m.group(1) or m.group(2)
    if not code:
        return texts.NEEDS_CODE.format(verb="查询")
    if account.role == Role.head:
        return await handle_head_query(ctx, conn, account, code)
    task = await get_task(conn, code=code)
    if task.department != account.department and task.sender_id != account.id:
        raise Forbidden(f"{task.code} 不是{account.department}的任务,只能查询本部门发出的任务。")
    return texts.build_task_status(task)


async def handle_withdraw(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    code = m.group(1) or m.group(2)
    if not code:
        return texts.NEEDS_CODE.format(verb="撤回")
    task = await withdraw_task(conn, account=account, code=code, now=msg.received_at)
    return texts.build_withdrawn(task)


async def handle_my_tasks(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    return texts.build_clerk_tasks(await list_clerk_tasks(conn, account_id=account.id))


async def handle_community_tasks(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    assert account.community_id is not None
    tasks = await list_community_targets(conn, community_id=account.community_id)
    return texts.build_community_tasks(account.community or "", tasks)


async def handle_complete(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    code = m.group(1) or m.group(2)
    if not code:
        return texts.NEEDS_CODE.format(verb="完成")
    task, rolled = await complete_target(conn, account=account, code=code, now=msg.received_at, settings=ctx.settings)
    return texts.build_completed(task, account.community, rolled)


item_text = texts.item_wording  # the list item's wording, quoted in receipts


async def handle_rate(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    name, score_text, comment = m.group(1), m.group(2), (m.group(3) or "").strip() or None
    if not name or not score_text:
        return texts.BAD_RATING
    department = resolve_department(ctx.rules, name)
    if department is None:
        return texts.department_not_found(name)
    score = int(score_text)
    month = await rate_department(
        conn, account=account, department=department, score=score, comment=comment, now=msg.received_at, tz=ctx.settings.tz
    )
    return texts.build_rated(department, score, month)


async def handle_wrong_role(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    verb = m.group(0).split(" ")[0]
    if account.role == Role.head:
        return texts.CLERK_ONLY.format(role="社区负责人")
    return texts.HEAD_ONLY.format(verb=verb)


async def handle_upload(ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, m: re.Match[str]) -> str:
    """A single-use link to the upload page; its receipt comes back to this chat (or this bot message)."""
    minutes = ctx.settings.links.upload_minutes
    chat = msg.source.chat if msg.source is not None else None
    ticket = await add_upload_ticket(conn, account_id=account.id, reply_to=msg.reply_to, chat=chat,
                                     now=msg.received_at, minutes=minutes)
    url = build_upload_link(ctx.settings.server.public_url, derive_link_secret(ctx.settings.server.session_secret),
                            nonce=ticket.nonce, expires_at=ticket.expires_at)
    return texts_media.UPLOAD_LINK.format(minutes=minutes, limit=human_bytes(ctx.settings.media.max_bytes), url=url)


# A command is short: the verb alone, the verb and an R- code, or the verb and one short word
# of letters and digits (answered "no such task"). Anything else that starts with a verb is a notice.
_CODE = r"(?:\s*(R-\S*)|\s+([A-Za-z0-9-]{1,24}))?"
ROUTES: tuple[Route, ...] = (
    Route(re.compile(r"^绑定\s*([A-Za-z0-9]{4,32})$"), None, handle_bind),
    Route(re.compile(r"^(?:帮助|help|\?|？)$", re.IGNORECASE), None, handle_help),
    Route(re.compile(rf"^查询{_CODE}$", re.IGNORECASE), frozenset({Role.clerk, Role.admin, Role.head}), handle_query),
    Route(re.compile(rf"^撤回{_CODE}$", re.IGNORECASE), frozenset({Role.clerk, Role.admin}), handle_withdraw),
    Route(re.compile(r"^我的任务$"), frozenset({Role.clerk, Role.admin}), handle_my_tasks),
    Route(re.compile(r"^上传(?:文件|通知)?$"), frozenset({Role.clerk, Role.admin, Role.head}), handle_upload),
    Route(re.compile(r"^任务$"), frozenset({Role.head}), handle_community_tasks),
    Route(re.compile(rf"^完成{_CODE}$", re.IGNORECASE), frozenset({Role.head}), handle_complete),
    Route(re.compile(rf"^不再提醒{_CODE}$", re.IGNORECASE), frozenset({Role.head}), handle_quiet),
    Route(re.compile(r"^撤销$"), frozenset({Role.head}), handle_undo),
    Route(re.compile(r"^评价(?:\s+(\S+?))?(?:\s*([1-5])(?!\d))?(?:\s+(.*))?$"), frozenset({Role.head}), handle_rate),
    # a known command sent by the wrong role gets an explanation, not intake
    Route(
        re.compile(rf"^(?:(?:查询|撤回|完成|不再提醒){_CODE}|我的任务|任务|撤销|评价(?:\s+\S+){{0,3}})$", re.IGNORECASE),
        None,
        handle_wrong_role,
    ),
)


def is_command(text: str) -> bool:
    text = normalize(text)
    return any(route.pattern.match(text) for route in ROUTES)


def _is_funding_answer(text: str, classification: Classification) -> bool:
    """"无", a short text that states funding, or a short line without a deadline (not a new notice)."""
    if text in NO_FUNDING_ANSWERS:
        return True
    if len(text) > FUNDING_ANSWER_MAX_CHARS:
        return False
    return classification.funded or (len(text) <= FUNDING_ANSWER_SHORT and classification.deadline is None)


def _is_deadline_answer(text: str, classification: Classification) -> bool:
    if text in texts.NO_DEADLINE_WORDS:
        return True
    return len(text) <= DEADLINE_ANSWER_MAX_CHARS and classification.deadline is not None


async def _handle_intake(
    ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, classification: Classification
) -> str:
    source = msg.source
    if source is not None and source.sha256 is not None:
        logged = await get_task_code_by_original(conn, sha256=source.sha256)
        if logged is not None:
            return texts.MEDIA_RESEND.format(code=logged)
    new = await create_task(
        conn, account=account, classification=classification, msg_id=msg.msg_id, channel=msg.channel,
        text=msg.text, received_at=msg.received_at, settings=ctx.settings, memory=ctx.memory, original=source,
    )
    state = AWAITING_DEADLINE if new.asks_deadline else AWAITING_FUNDING if new.asks_funding else None
    if state is not None:
        await set_dialogue(
            conn, account_id=account.id, state=state, task_id=new.task.id,
            expires_at=msg.received_at + dt.timedelta(minutes=ctx.settings.dialogue.timeout_minutes),
        )
    receipt = texts.build_receipt(new, item_text=item_text(ctx.rules, new.task.item),
                                  reminder_days=ctx.settings.schedule.reminder_days, tz=ctx.settings.tz)
    if source is None or source.type == "text":
        return receipt
    note = texts.build_source_note(source.type.value, msg.text, code=new.task.code, ocr=source.ocr)
    return receipt + "\n" + note


async def _handle_deadline_answer(
    ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, text: str,
    classification: Classification,
) -> str:
    assert account.dialogue_task_id is not None
    await clear_dialogue(conn, account_id=account.id)
    deadline = None if text in texts.NO_DEADLINE_WORDS else classification.deadline
    deadline_time = None if deadline is None else classification.deadline_time
    task = await set_task_deadline(
        conn, task_id=account.dialogue_task_id, deadline=deadline, deadline_time=deadline_time,
        actor=f"account:{account.id}", now=msg.received_at, settings=ctx.settings,
    )
    if not needs_funding_answer(task, ctx.settings.admission.unfunded_assist):
        return texts.build_deadline_set(task)
    await set_dialogue(
        conn, account_id=account.id, state=AWAITING_FUNDING, task_id=task.id,
        expires_at=msg.received_at + dt.timedelta(minutes=ctx.settings.dialogue.timeout_minutes),
    )
    return texts.build_deadline_set(task) + "\n" + texts.ASK_FUNDING


async def _handle_funding_answer(
    ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, text: str
) -> str:
    assert account.dialogue_task_id is not None
    await clear_dialogue(conn, account_id=account.id)
    task = await set_task_funding(conn, task_id=account.dialogue_task_id, answer=text,
                                  actor=f"account:{account.id}", now=msg.received_at, settings=ctx.settings)
    return texts.build_funding_recorded(task)


def _is_awaiting(account: AccountView, state: str, now: dt.datetime) -> bool:
    return (account.dialogue_state == state and account.dialogue_expires_at is not None
            and account.dialogue_expires_at > now)


async def _dispatch(
    ctx: DialogueContext, conn: AsyncConnection, account: AccountView, msg: Incoming, classification: Classification | None
) -> str:
    text = normalize(msg.text)
    for route in ROUTES:
        match = route.pattern.match(text)
        if match is None:
            continue
        if route.roles is not None and (not account.is_bound or account.role not in route.roles):
            continue
        if route.roles is None and route.handler is handle_wrong_role and not account.is_bound:
            return texts.HELP_UNBOUND
        return await route.handler(ctx, conn, account, msg, match)
    if not account.active:
        return texts.INACTIVE
    if not account.is_bound:
        return texts.HELP_UNBOUND
    if account.role == Role.head:
        if is_counter_line(text):
            return await handle_counter(ctx, conn, account, msg, text)
        return await handle_head_text(ctx, conn, account, msg, text)
    if classification is None:
        classification = classify(msg.text, now=msg.received_at, sender_department=account.department, rules=ctx.rules)
    if _is_awaiting(account, AWAITING_FUNDING, msg.received_at) and _is_funding_answer(text, classification):
        return await _handle_funding_answer(ctx, conn, account, msg, text)
    if _is_awaiting(account, AWAITING_DEADLINE, msg.received_at) and _is_deadline_answer(text, classification):
        return await _handle_deadline_answer(ctx, conn, account, msg, text, classification)
    if account.dialogue_state is not None:
        await clear_dialogue(conn, account_id=account.id)
    return await _handle_intake(ctx, conn, account, msg, classification)


def _error_reply(exc: IntakeError) -> str:
    if isinstance(exc, NotFound):
        return texts.code_not_found(str(exc))
    return str(exc)


@dataclass(frozen=True)
class Ahead:
    """A classification computed before the writer unit, from a possibly stale guess of the sender."""

    classification: Classification
    department: str | None


async def handle_text(ctx: DialogueContext, conn: AsyncConnection, msg: Incoming, ahead: Ahead | None) -> tuple[str, AccountView]:
    """One text message, start to finish, inside the caller's transaction; returns the reply and the sender.

    Use cases check everything before they write, so a refused command leaves nothing behind.
    """
    account = await get_account(conn, channel=msg.channel, external_id=msg.external_id)
    if account is None or account.last_seen_at is None or msg.received_at - account.last_seen_at > LAST_SEEN_RESOLUTION:
        await touch_account(conn, channel=msg.channel, external_id=msg.external_id, now=msg.received_at)
        if account is None:
            account = await get_account(conn, channel=msg.channel, external_id=msg.external_id)
            assert account is not None
    ctx = ctx.for_district(account.district_id)  # admission per level: the district's own lists
    classification = (ahead.classification if ahead is not None and ahead.department == account.department
                      and ahead.classification.rules_version == ctx.rules.version else None)
    try:
        return await _dispatch(ctx, conn, account, msg, classification), account
    except (NotFound, Forbidden, InvalidRequest) as exc:
        return _error_reply(exc), account


async def handle_event(ctx: DialogueContext, conn: AsyncConnection, *, channel: str, external_id: str, event: str, now: dt.datetime) -> str:
    """Subscribe gets a welcome, unsubscribe deactivates the account, a menu click gets help, others nothing."""
    if event == "unsubscribe":
        await deactivate_account(conn, channel=channel, external_id=external_id, now=now, actor="wechat:unsubscribe")
        return ""
    if event not in ("subscribe", "click", "scan"):
        return ""  # VIEW, LOCATION, template-sent receipts...: WeChat shows no reply to these
    await touch_account(conn, channel=channel, external_id=external_id, now=now, reactivate=event == "subscribe")
    account = await get_account(conn, channel=channel, external_id=external_id)
    if event == "subscribe":
        if account is not None and account.is_bound:
            return "欢迎回来!\n" + texts.build_help(account, ctx.settings.server.public_url)
        return texts.WELCOME
    return texts.build_help(account, ctx.settings.server.public_url)
