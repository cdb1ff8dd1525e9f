"""Issuing department: 【…】 prefix, forwarded notices, the heading, the signature, else the sender's.

A department named as background (根据市卫健委要求、配合区城管局、在区人武部……) is not the issuer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from classifiers.model import Evidence
from classifiers.rules import Rules
from classifiers.tokens import Token

__all__ = ["DepartmentResult", "read_department"]

_HEAD_STOPS = ("：", ":", "\n", "请", "各社区", "。", "；")
_HEAD_MAX = 40
_CLAUSE_BREAKS = "，,。；;：:\n、"


@dataclass(frozen=True, slots=True)
class DepartmentResult:
    department: str | None
    from_text: bool
    evidence: Evidence
    city: bool = False  # named as the city's (市民政局): the city-level department, not the district's


def _named(text: str, mention: Token, evidence: Evidence) -> DepartmentResult:
    """The department a mention names; 市民政局 (or 市 just before it) is the city's, not the district's."""
    city = mention.text.startswith("市") or text[max(0, mention.start - 1):mention.start] == "市"
    return DepartmentResult(mention.department, True, evidence, city=city)


def _clause_before(text: str, pos: int) -> str:
    start = max((text.rfind(ch, 0, pos) for ch in _CLAUSE_BREAKS), default=-1) + 1
    return text[start:pos]


def _is_upper(text: str, token: Token, rules: Rules) -> bool:
    if token.text[0] in "市省" and token.text[1:] in rules.alias_to_department:
        return True
    before = text[max(0, token.start - 2) : token.start]
    return before.endswith(rules.upper_prefixes)


def _is_background(text: str, token: Token, rules: Rules) -> bool:
    clause = _clause_before(text, token.start)
    return any(marker in clause for marker in rules.background_markers)


def read_department(text: str, tokens: Sequence[Token], *, sender_department: str | None, rules: Rules) -> DepartmentResult:
    """The issuing department (canonical name) and why. Never raises.

    `tokens` needs only the marked tokens (departments and forwarding markers), in order.
    """
    mentions = [t for t in tokens if t.department is not None]
    known_sender = sender_department if sender_department else None
    if known_sender is not None and known_sender not in rules.departments:
        known_sender = rules.alias_to_department.get(known_sender, known_sender)

    # 1. forwarded: 街道转发区残联通知 -> 残联
    forwarding = any(marker in text for marker in rules.forward_markers)
    for token in tokens if forwarding else ():
        if token.text in rules.forward_markers or any(token.text.endswith(m) for m in rules.forward_markers):
            for mention in mentions:
                if token.end <= mention.start <= token.end + 6:
                    return _named(text, mention, Evidence("部门:转发", (token.text, mention.text), f"转发“{mention.text}”的通知,发文部门是{mention.department}"))
    # 2. 【…】 prefix
    stripped = text.lstrip()
    offset = len(text) - len(stripped)
    if stripped.startswith(("【", "[")):
        close = min((i for i in (stripped.find("】"), stripped.find("]")) if i != -1), default=-1)
        if close != -1:
            for mention in mentions:
                if offset < mention.start < offset + close:
                    return _named(text, mention, Evidence("部门:【】前缀", (mention.text,), f"消息以【{stripped[1:close]}】开头"))
    # 3. the heading (before the first colon / 请 / 各社区)
    stops = [i for i in (text.find(s) for s in _HEAD_STOPS) if i != -1]
    head_end = min([*stops, _HEAD_MAX])
    for mention in mentions:
        if mention.start >= head_end:
            break
        if _is_upper(text, mention, rules) or _is_background(text, mention, rules):
            continue
        return _named(text, mention, Evidence("部门:开头署名", (mention.text,), f"消息开头写明“{mention.text}”"))
    # 4. a signature line at the end
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1:
        last = lines[-1]
        for mention in reversed(mentions):
            if mention.text in last and len(last) <= len(mention.text) + 12:
                return _named(text, mention, Evidence("部门:落款", (mention.text,), f"落款为“{last}”"))
    # 5. the account's own department
    if known_sender:
        others = tuple(m.text for m in mentions)
        why = "正文未写明发文部门,按发送账号绑定的部门"
        if others:
            why += "(正文提到的部门是背景或去向)"
        return DepartmentResult(known_sender, False, Evidence("部门:发送账号", others, why))
    # 6. the first department named in the body that is not background
    for mention in mentions:
        if _is_upper(text, mention, rules) or _is_background(text, mention, rules):
            continue
        return _named(text, mention, Evidence("部门:正文提及", (mention.text,), f"正文提到“{mention.text}”"))
    return DepartmentResult(None, False, Evidence("部门:未知", (), "正文未写明部门,发送账号也未绑定部门"))
