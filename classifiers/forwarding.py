"""The forwarding chain: what a forwarding office (a street, a section) added to the notice it passed on.

A forwarded notice (街道转发区民政局通知…) holds the issuer's text and the forwarder's own sentences
(the ones with ``reading.forward_own_markers``: 请各社区于12月5日前报街道, 另请附照片…). Each part gets
its own deadline. When the forwarder's is earlier, or its sentences ask for work the issuer's text does
not (``reading.forward_added_work``), the notice is 层层加码: the task is due at the earlier date and
both dates are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from classifiers.deadline import read_deadline
from classifiers.model import Evidence
from classifiers.rules import Rules

__all__ = ["Forwarding", "read_forwarding", "ADDED_DEADLINE", "ADDED_WORK"]

ADDED_DEADLINE = "deadline"  # the forwarder set an earlier deadline
ADDED_WORK = "work"  # the forwarder asked for more than the issuer
_SENTENCE = re.compile(r"[^。!！;；\n]+[。!！;；\n]?")


@dataclass(frozen=True)
class Forwarding:
    issuer_deadline: date | None = None
    issuer_deadline_time: time | None = None
    deadline: date | None = None  # the forwarder's own (the community's) deadline
    deadline_time: time | None = None
    added: tuple[str, ...] = ()  # ADDED_DEADLINE / ADDED_WORK: 层层加码 when not empty
    added_words: tuple[str, ...] = ()
    evidence: Evidence = Evidence("转发:无")


NONE = Forwarding()


def _parts(text: str, rules: Rules) -> tuple[str, str]:
    """(the issuer's text, the forwarder's own sentences)."""
    own: list[str] = []
    issuer: list[str] = []
    for sentence in _SENTENCE.findall(text):
        (own if any(m in sentence for m in rules.forward_own_markers) else issuer).append(sentence)
    return "".join(issuer), "".join(own)


def read_forwarding(text: str, *, now: datetime, rules: Rules, forwarded: bool) -> Forwarding:
    """What the forwarder of `text` changed; :data:`NONE` when it is not forwarded or changed nothing."""
    if not forwarded:
        return NONE
    issuer_text, own_text = _parts(text, rules)
    if not own_text or not issuer_text:
        return NONE
    issuer = read_deadline(issuer_text, now=now, rules=rules)
    own = read_deadline(own_text, now=now, rules=rules)
    added: list[str] = []
    if own.deadline is not None and issuer.deadline is not None and (own.deadline, own.deadline_time or time.max) < (
            issuer.deadline, issuer.deadline_time or time.max):
        added.append(ADDED_DEADLINE)
    extra = tuple(w for w in rules.forward_added_work if w in own_text and w not in issuer_text)
    if extra:
        added.append(ADDED_WORK)
    if not added:
        return Forwarding(issuer_deadline=issuer.deadline, issuer_deadline_time=issuer.deadline_time,
                          deadline=own.deadline or issuer.deadline,
                          deadline_time=own.deadline_time if own.deadline else issuer.deadline_time,
                          evidence=Evidence("转发:未加码", (), "转发者没有提前截止时间,也没有增加工作"))
    why = []
    if ADDED_DEADLINE in added:
        assert issuer.deadline is not None and own.deadline is not None
        why.append(f"原文截止{issuer.deadline.month}月{issuer.deadline.day}日,"
                   f"转发要求{own.deadline.month}月{own.deadline.day}日")
    if extra:
        why.append("转发另加:" + "、".join(extra))
    return Forwarding(
        issuer_deadline=issuer.deadline, issuer_deadline_time=issuer.deadline_time,
        deadline=own.deadline if ADDED_DEADLINE in added else issuer.deadline,
        deadline_time=own.deadline_time if ADDED_DEADLINE in added else issuer.deadline_time,
        added=tuple(added), added_words=extra,
        evidence=Evidence("转发:层层加码", extra + tuple(w for w in rules.forward_own_markers if w in own_text),
                          ";".join(why)),
    )
