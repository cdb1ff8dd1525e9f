"""The rule records a Rules object is made of: kinds, list items, certificate items, term tags."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from classifiers.model import CertificateDecision, Kind, Listing, Nature

__all__ = ["CertificateItem", "ItemRule", "KindRule", "Tag"]


@dataclass(frozen=True, slots=True)
class KindRule:
    kind: Kind
    name_zh: str
    nature: Nature
    words: Mapping[str, float]
    patterns: tuple[tuple[re.Pattern[str], float], ...]


@dataclass(frozen=True, slots=True)
class ItemRule:
    code: str
    listing: Listing
    text: str
    words: Mapping[str, float]
    require: tuple[frozenset[str], ...]
    departments: frozenset[str]
    # regexes over the raw text for wordings that name no single term (每个社区认购……份); a match
    # adds its weight and stands for the whole `require` context
    patterns: tuple[tuple[re.Pattern[str], float], ...] = ()
    # negative items only: regexes that name the demand itself (staff lent to another office, money or
    # purchases per community or per person). Scored as `patterns`; when one matches, the admitted items
    # found in the same notice are the demand's topic (the vaccination site, the charity), not work asked
    # of the community, so they do not contest the refusal
    demand: tuple[tuple[re.Pattern[str], float], ...] = ()
    # the kind of work the item itself is (N7 募捐摊派 is a levy, N9 挂牌 a signboard): a task decided
    # as, or held as possibly, this item is of this kind
    kind: Kind | None = None


@dataclass(frozen=True, slots=True)
class CertificateItem:
    name: str
    decision: CertificateDecision
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tag:
    """What one rule term means: ("kind", "survey", 3.0) or ("item", "A1", 3.0) or ("req", "N8", 0.0)."""

    category: str
    key: str
    weight: float
    term: str
