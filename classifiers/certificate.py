"""Certificates: is the community asked to issue one, and may it (issue / conditional / refuse)?"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifiers.model import CertificateDecision, Evidence
from classifiers.rules import CertificateItem, Rules

__all__ = ["CertificateResult", "read_certificate"]

_NAME = re.compile(r"([^，。；、：,;:\s“”\"（）()《》]{1,14}?)(?:的)?证明(?!材料)")
_NAME_CUT = re.compile(r".*(?:出具|开具|提供|需要|需|要|开|为|给|办|的|与)")
_RANK = {CertificateDecision.REFUSE: 2, CertificateDecision.CONDITIONAL: 1, CertificateDecision.ISSUE: 0}


@dataclass(frozen=True, slots=True)
class CertificateResult:
    requested: bool
    decision: CertificateDecision | None
    name: str | None
    evidence: Evidence


def _match(subject: str, items: list[CertificateItem]) -> tuple[CertificateItem, str] | None:
    best: tuple[int, int, CertificateItem, str] | None = None
    for item in items:
        for word in item.words:
            if word in subject:
                key = (len(word), _RANK[item.decision])
                if best is None or key > best[:2]:
                    best = (key[0], key[1], item, word)
    return (best[2], best[3]) if best else None


def read_certificate(text: str, *, rules: Rules) -> CertificateResult:
    """Whether the notice asks the community to issue a certificate, and the decision. Never raises."""
    if "证明" not in text:
        return CertificateResult(False, None, None, Evidence("证明:无", (), "未要求出具证明"))
    verbs = [v for v in rules.certificate_verbs if v in text]
    if not verbs:
        return CertificateResult(False, None, None, Evidence("证明:无出具要求", ("证明",), "提到证明,但未要求社区出具"))
    subjects: list[str] = []
    for m in _NAME.finditer(text):
        subject = _NAME_CUT.sub("", m.group(1)) or m.group(1)
        subjects.append(subject)
    for subject in subjects:
        found = _match(subject, rules.certificate_items)
        if found is not None:
            item, word = found
            zh = {"issue": "社区应出具", "conditional": "核实后或凭承诺可出具", "refuse": "不应由社区出具"}[item.decision.value]
            return CertificateResult(
                True, item.decision, item.name, Evidence(f"证明:{item.name}", (*verbs[:2], f"{subject}证明"), f"“{subject}证明”属于{item.name},{zh}")
            )
    names = tuple(f"{s}证明" for s in subjects)
    return CertificateResult(True, None, None, Evidence("证明:未列入清单", (*verbs[:2], *names), "要求出具的证明不在证明事项清单中,需人工判断"))
