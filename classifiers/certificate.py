"""Certificates: is the community asked to issue one, and may it (issue / conditional / refuse)?

A certificate is recognised by what it certifies, not only by its name: besides "亲属关系证明" the
reader looks at what follows the verb 证明 ("证明两人是母女", "证明他名下没有房") and at what the
community is told to write (写明该志愿者没有违法犯罪记录). An issuing verb counts only when the
community is the issuer: not when it is negated (社区不需要出具) or given to someone else in the same
clause (由申请人到工作单位开具, 医院出具的诊断证明).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifiers.model import CertificateDecision, Evidence
from classifiers.rules import CertificateItem, Rules

__all__ = ["CertificateResult", "read_certificate", "find_certificate_item"]

_NAME = re.compile(r"([^，。；、：,;:\s“”\"（）()《》]{1,14}?)(?:的)?证明(?!材料)")
_NAME_CUT = re.compile(r".*(?:出具|开具|提供|需要|需|要|开|为|给|办|的|与)")
# what a certificate is to say: the clause after the verb 证明, or after 写明/注明/说明/证实/内容是 ...
_CONTENT = re.compile(r"(?:证明|写明|注明|载明|说明|证实|内容是|内容为)(?!材料|书|文件)[:：]?([^，,。；;！!？?\n]{2,40})")
# ... or, after a colon (证明:…), the whole sentence: a colon introduces the certificate's own text
_CONTENT_COLON = re.compile(r"(?:证明|内容)[:：]([^。；;！!？?\n]{2,60})")
_QUOTES = str.maketrans("", "", "“”\"‘’'「」《》")
# a 情况说明 the community is to issue (出具一份情况说明) is a certificate in all but name; one it reports
# (报送工作情况说明) is not
_ISSUED_STATEMENT = re.compile(r"(?:出具|开具|开一份|开个|出一份)[^。；;，,]{0,6}?情况说明")
_CLAUSE = re.compile(r"[，,。；;！!？?\n]")
_NEGATION_WINDOW = 8
_DECISION_ZH = {"issue": "社区应出具", "conditional": "核实后或凭承诺可出具", "refuse": "不应由社区出具"}


@dataclass(frozen=True, slots=True)
class CertificateResult:
    requested: bool
    decision: CertificateDecision | None
    name: str | None
    evidence: Evidence


def _clause_around(text: str, start: int, end: int) -> str:
    left = max((m.end() for m in _CLAUSE.finditer(text, 0, start)), default=0)
    right = _CLAUSE.search(text, end)
    return text[left : right.start() if right else len(text)]


def _issuing_verbs(text: str, rules: Rules) -> list[str]:
    """The issuing verbs that ask the community itself to issue (not negated, not someone else's)."""
    found: list[str] = []
    for verb in rules.certificate_verbs:
        for m in re.finditer(re.escape(verb), text):
            before = text[max(0, m.start() - _NEGATION_WINDOW) : m.start()]
            if any(word in before for word in rules.certificate_negations):
                continue
            if text.startswith("的", m.end()) and verb in ("出具", "开具"):  # 医院出具的诊断证明
                continue
            clause = _clause_around(text, m.start(), m.end())
            if any(word in clause for word in rules.other_issuers):
                continue
            found.append(verb)
            break
    return found


def _subjects(text: str) -> list[str]:
    """The names of the certificates asked for (…证明) and what they are to certify."""
    subjects: list[str] = []
    for m in _NAME.finditer(text.translate(_QUOTES)):  # “学生参加社区活动”的证明
        subject = _NAME_CUT.sub("", m.group(1))
        if subject:
            subjects.append(subject)
    subjects.extend(m.group(1) for m in _CONTENT.finditer(text))
    subjects.extend(m.group(1) for m in _CONTENT_COLON.finditer(text))
    return subjects


def _match(subjects: list[str], ranked: tuple[tuple[str, CertificateItem], ...]) -> tuple[CertificateItem, str, str] | None:
    """The best certificate item over every subject: the longest word, then refuse over issue."""
    for word, item in ranked:
        for subject in subjects:
            if word in subject:
                return item, word, subject
    return None


def read_certificate(text: str, *, rules: Rules) -> CertificateResult:
    """Whether the notice asks the community to issue a certificate, and the decision. Never raises."""
    if "证明" not in text and _ISSUED_STATEMENT.search(text) is None:
        return CertificateResult(False, None, None, Evidence("证明:无", (), "未要求出具证明"))
    verbs = _issuing_verbs(text, rules)
    if not verbs:
        return CertificateResult(False, None, None, Evidence("证明:无出具要求", ("证明",), "提到证明,但未要求社区出具"))
    subjects = _subjects(text)
    found = _match(subjects, rules.certificate_ranked)
    if found is not None:
        item, word, subject = found
        why = f"“{subject}”说的是{word},属于{item.name},{_DECISION_ZH[item.decision.value]}"
        return CertificateResult(True, item.decision, item.name, Evidence(f"证明:{item.name}", (*verbs[:2], word), why))
    names = tuple(subjects[:3])
    return CertificateResult(True, None, None, Evidence("证明:未列入清单", (*verbs[:2], *names), "要求出具的证明不在证明事项清单中,需人工判断"))


def find_certificate_item(name: str, *, rules: Rules) -> CertificateItem | None:
    """The certificate list's item for a certificate named in a few words (贷款资信, 居住), or None."""
    found = _match([name], rules.certificate_ranked)
    return found[0] if found else None
