"""Target communities: the configured community names the notice names, or all ("*")."""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.model import Evidence
from classifiers.rules import Rules

__all__ = ["CommunitiesResult", "read_communities"]

ALL = "*"


@dataclass(frozen=True, slots=True)
class CommunitiesResult:
    communities: tuple[str, ...]
    evidence: Evidence


def read_communities(text: str, *, rules: Rules) -> CommunitiesResult:
    """Named target communities, or ("*",) for 各社区 / 全体社区 / none named. Never raises."""
    if rules.all_communities_re is not None:
        m = rules.all_communities_re.search(text)
        if m is not None:
            return CommunitiesResult((ALL,), Evidence("对象:全部社区", (m[0],), f"“{m[0]}”指全部社区"))
    if rules.community_re is not None:
        named = tuple(dict.fromkeys(m[0] for m in rules.community_re.finditer(text)))
        if named:
            return CommunitiesResult(named, Evidence("对象:点名社区", named, "通知点名了这些社区"))
    return CommunitiesResult((ALL,), Evidence("对象:未点名", (), "未点名具体社区,视为全部社区"))
