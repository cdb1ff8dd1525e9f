"""Counter work: the certificates, inspections, meetings, secondments and platforms a community logs in one line.

A head writes ``证明 3 银行 贷款资信`` instead of a line in the paper certificate book; the entry is the
community's own ledger (证明出具台账, 迎检记录, 会议记录), counted in the digests. Parsing is a pure
function (:func:`parse_counter_line`); the repository functions are keyword-only, take the connection and
never commit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from classifiers import Rules
from classifiers.certificate import find_certificate_item
from intake.accounts import AccountView
from intake.audit import add_audit
from intake.errors import Forbidden, InvalidRequest, NotFound
from intake.store.models import COUNTER_ENTRIES, CounterKind

__all__ = [
    "COUNTER_VERBS",
    "CounterLine",
    "CounterFormatError",
    "CounterEntryView",
    "resolve_department",
    "is_counter_line",
    "parse_counter_line",
    "add_counter_entry",
    "undo_last_entry",
    "list_counter_entries",
    "update_counter_entry",
]

COUNTER_VERBS: dict[str, CounterKind] = {
    "证明": CounterKind.certificate,
    "检查": CounterKind.inspection,
    "会议": CounterKind.meeting,
    "借调": CounterKind.secondment,
    "平台": CounterKind.platform,
}
MAX_LINE = 80  # longer texts that start with a verb are notices (会议通知:…), not counter lines

_CN = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "半": 0.5}
_NUM = r"(\d+(?:\.\d+)?|[一二两三四五六七八九十半]+)"
_PEOPLE = re.compile(rf"^{_NUM}(?:人|名|位)$")
_SYSTEMS = re.compile(rf"^{_NUM}个?(?:系统|平台|APP|app|小程序)$")
_HOURS = re.compile(rf"^{_NUM}(?:个)?(小时|h|H|分钟|天|日)$")
_PERIOD = re.compile(rf"^{_NUM}(?:个)?(月|周|天|日|年)$")
_COPIES = re.compile(r"^(\d+)(?:份|张|件)?$")
_REFUSED = frozenset({"拒开", "拒绝", "未开", "不予出具", "未出具", "拒出"})
_ISSUED = frozenset({"已开", "已出具", "出具", "开具"})
_HALF_DAY, _WORK_DAY = 4.0, 8.0
_BRACKETS = str.maketrans("", "", "【】[]()()")


class CounterFormatError(InvalidRequest):
    """A counter line whose verb was understood but whose rest was not; ``kind`` picks the example."""

    def __init__(self, kind: CounterKind, problem: str) -> None:
        super().__init__(problem)
        self.kind = kind
        self.problem = problem


@dataclass(frozen=True)
class CounterLine:
    kind: CounterKind
    party: str
    subject: str = ""
    count: int = 1
    refused: bool = False
    people: int | None = None
    hours: float | None = None
    period_days: int | None = None
    systems: int | None = None


@dataclass(frozen=True)
class CounterEntryView:
    id: int
    community_id: int
    kind: str
    day: dt.date
    count: int
    party: str
    subject: str
    refused: bool
    decision: str | None
    people: int | None
    hours: float | None
    period_days: int | None
    systems: int | None
    raw_text: str

    @property
    def should_not_issue(self) -> bool:
        """A certificate the list says a community must not issue, issued anyway."""
        return self.kind == CounterKind.certificate.value and self.decision == "refuse" and not self.refused


def resolve_department(rules: Rules, name: str) -> str | None:
    """A department's canonical name from its name or any alias in the rules (区/市 prefixes allowed)."""
    name = name.translate(_BRACKETS)
    for candidate in (name, name[1:] if name[:1] in ("区", "市", "县") else None):
        if candidate and candidate in rules.alias_to_department:
            return rules.alias_to_department[candidate]
    return None


def _number(text: str) -> float:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text == "十":
        return 10.0
    if text.startswith("十"):
        return 10 + _CN.get(text[1:], 0)
    if len(text) == 2 and text[1] == "十":
        return _CN.get(text[0], 1) * 10
    return float(_CN.get(text, 0))


def _hours(token: str) -> float | None:
    if token in ("半天", "半日"):
        return _HALF_DAY
    if token in ("全天", "一天", "整天", "1天"):
        return _WORK_DAY
    m = _HOURS.match(token)
    if m is None:
        return None
    value, unit = _number(m.group(1)), m.group(2)
    if unit in ("天", "日"):
        return value * _WORK_DAY
    return value / 60 if unit == "分钟" else value


def _period_days(token: str) -> int | None:
    if token == "半年":
        return 182
    m = _PERIOD.match(token)
    if m is None:
        return None
    days = {"月": 30, "周": 7, "天": 1, "日": 1, "年": 365}[m.group(2)]
    return max(1, round(_number(m.group(1)) * days))


def is_counter_line(text: str) -> bool:
    """One short line that starts with a counter verb (the verb alone too)."""
    head = text.split(" ", 1)[0]
    return head in COUNTER_VERBS and "\n" not in text and len(text) <= MAX_LINE


def _fields(kind: CounterKind, tokens: list[str]) -> dict[str, Any]:
    """Pick the measured tokens out (people, systems, hours, period, copies, issued/refused); the rest are words."""
    found: dict[str, Any] = {"words": []}
    for i, token in enumerate(tokens):
        if m := _PEOPLE.match(token):
            found["people"] = max(1, int(_number(m.group(1))))
        elif kind == CounterKind.platform and (m := _SYSTEMS.match(token)):
            found["systems"] = max(1, int(_number(m.group(1))))
        elif kind == CounterKind.secondment and (days := _period_days(token)) is not None:
            found["period_days"] = days
        elif kind != CounterKind.secondment and (hours := _hours(token)) is not None:
            found["hours"] = round(hours, 2)
        elif kind == CounterKind.certificate and i == 0 and (m := _COPIES.match(token)):
            found["count"] = max(1, int(m.group(1)))
        elif kind == CounterKind.certificate and token in _REFUSED | _ISSUED:
            found["refused"] = token in _REFUSED
        else:
            found["words"].append(token)
    return found


_NEEDS: dict[CounterKind, tuple[tuple[str, str], ...]] = {
    CounterKind.certificate: (("party", "索取方(如 银行、居民、派出所)"), ("subject", "证明事项(如 贷款资信、居住)")),
    CounterKind.inspection: (("party", "检查单位(如 应急管理局)"),),
    CounterKind.meeting: (("party", "主办单位(如 街道)"), ("subject", "会议名称(如 安全部署会)")),
    CounterKind.secondment: (("people", "借调人数(如 1人)"), ("party", "借调单位(如 人社局)")),
    CounterKind.platform: (("party", "系统所属部门(如 卫健)"), ("systems", "系统个数(如 4个系统)")),
}


def parse_counter_line(text: str) -> CounterLine:
    """Read one counter line (already normalised: single spaces, ASCII digits); raises CounterFormatError."""
    verb, *tokens = text.split(" ")
    kind = COUNTER_VERBS[verb]
    found = _fields(kind, tokens)
    words: list[str] = found.pop("words")
    found["party"] = words[0] if words else ""
    found["subject"] = " ".join(words[1:])
    missing = [label for key, label in _NEEDS[kind] if not found.get(key)]
    if missing:
        raise CounterFormatError(kind, "缺少" + "、".join(missing))
    if len(found["party"]) > 64 or len(found["subject"]) > 200:
        raise CounterFormatError(kind, "内容过长")
    return CounterLine(kind=kind, **found)


def _view(row: Any) -> CounterEntryView:
    return CounterEntryView(
        id=int(row.id), community_id=int(row.community_id), kind=row.kind, day=row.day, count=int(row.count),
        party=row.party, subject=row.subject, refused=bool(row.refused), decision=row.decision, people=row.people,
        hours=row.hours, period_days=row.period_days, systems=row.systems, raw_text=row.raw_text,
    )


def _canonical(line: CounterLine, rules: Rules) -> CounterLine:
    if line.kind == CounterKind.certificate:
        return line
    party = resolve_department(rules, line.party) or line.party
    return line if party == line.party else CounterLine(**{**line.__dict__, "party": party})


async def add_counter_entry(
    conn: AsyncConnection, *, account: AccountView, line: CounterLine, raw_text: str, rules: Rules,
    now: dt.datetime, day: dt.date,
) -> CounterEntryView:
    """Store one line for the head's community; a certificate gets the certificate list's decision."""
    if account.community_id is None:
        raise Forbidden("只有绑定社区的账号可以登记证明、检查、会议等工作。")
    line = _canonical(line, rules)
    decision = None
    if line.kind == CounterKind.certificate:
        item = find_certificate_item(line.subject, rules=rules)
        decision = item.decision.value if item is not None else None
    values = {**line.__dict__, "kind": line.kind.value, "community_id": account.community_id,
              "account_id": account.id, "day": day, "decision": decision, "raw_text": raw_text[:500],
              "removed": False, "created_at": now, "updated_at": now}
    entry_id = (await conn.execute(sa.insert(COUNTER_ENTRIES).values(**values).returning(COUNTER_ENTRIES.c.id))
                ).scalar_one()
    await add_audit(conn, actor=f"account:{account.id}", entity="counter_entry", entity_id=int(entry_id),
                    action="create", after={"kind": line.kind.value, "raw": raw_text[:200]}, now=now)
    return await get_counter_entry(conn, entry_id=int(entry_id))


async def get_counter_entry(conn: AsyncConnection, *, entry_id: int) -> CounterEntryView:
    row = (await conn.execute(sa.select(COUNTER_ENTRIES).where(COUNTER_ENTRIES.c.id == entry_id))).first()
    if row is None:
        raise NotFound(f"#{entry_id}")
    return _view(row)


async def undo_last_entry(conn: AsyncConnection, *, account: AccountView, now: dt.datetime) -> CounterEntryView | None:
    """``撤销``: remove the head's own newest entry (None when there is nothing left to undo)."""
    row = (
        await conn.execute(
            sa.select(COUNTER_ENTRIES)
            .where(COUNTER_ENTRIES.c.account_id == account.id, COUNTER_ENTRIES.c.removed.is_(False))
            .order_by(COUNTER_ENTRIES.c.id.desc()).limit(1)
        )
    ).first()
    if row is None:
        return None
    await conn.execute(sa.update(COUNTER_ENTRIES).where(COUNTER_ENTRIES.c.id == row.id)
                       .values(removed=True, updated_at=now))
    await add_audit(conn, actor=f"account:{account.id}", entity="counter_entry", entity_id=int(row.id),
                    action="undo", before={"removed": False}, after={"removed": True}, now=now)
    return _view(row)


async def list_counter_entries(
    conn: AsyncConnection, *, community_id: int | None, first: dt.date, last: dt.date, kind: str | None = None,
) -> list[CounterEntryView]:
    """Entries of a community (None: all) dated first..last, oldest first; removed ones left out."""
    query = sa.select(COUNTER_ENTRIES).where(
        COUNTER_ENTRIES.c.removed.is_(False), COUNTER_ENTRIES.c.day >= first, COUNTER_ENTRIES.c.day <= last
    )
    if community_id is not None:
        query = query.where(COUNTER_ENTRIES.c.community_id == community_id)
    if kind is not None:
        query = query.where(COUNTER_ENTRIES.c.kind == kind)
    rows = await conn.execute(query.order_by(COUNTER_ENTRIES.c.day, COUNTER_ENTRIES.c.id))
    return [_view(row) for row in rows]


async def update_counter_entry(
    conn: AsyncConnection, *, entry_id: int, line: CounterLine | None, day: dt.date | None, raw_text: str,
    rules: Rules, actor: str, now: dt.datetime,
) -> CounterEntryView:
    """An admin's correction: the entry re-read from a corrected line (and date), or removed (``line`` None)."""
    before = await get_counter_entry(conn, entry_id=entry_id)
    values: dict[str, Any] = {"updated_at": now}
    if line is None:
        values["removed"] = True
    else:
        line = _canonical(line, rules)
        item = find_certificate_item(line.subject, rules=rules) if line.kind == CounterKind.certificate else None
        values.update({**line.__dict__, "kind": line.kind.value, "raw_text": raw_text[:500],
                       "decision": item.decision.value if item is not None else None})
    if day is not None:
        values["day"] = day
    await conn.execute(sa.update(COUNTER_ENTRIES).where(COUNTER_ENTRIES.c.id == entry_id).values(**values))
    await add_audit(conn, actor=actor, entity="counter_entry", entity_id=entry_id,
                    action="remove" if line is None else "correct",
                    before={"raw": before.raw_text, "day": before.day.isoformat()},
                    after={"raw": raw_text[:200], "day": (day or before.day).isoformat()}, now=now)
    return await get_counter_entry(conn, entry_id=entry_id)
