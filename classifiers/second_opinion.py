"""Where the rules are weak, ask the nearest labelled notices (classifiers/similar.py) and say so.

`read_second_opinion` is called after the kind and listing readers. It consults the index only when
the rules found no item (`准入:未列入清单`), held the task between a weak negative item and an
admitted one, or the kind scored at most `weak_kind_score`, so a notice the rules read clearly costs
nothing more. It never refuses: a negative candidate stays unlisted and is named for the admin; an
admitted candidate is taken, marked `needs_review` (for a held task, only the admitted item the rules
themselves saw: two readings agree before a held task is dispatched).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from classifiers.kind import KindResult
from classifiers.listing import NO_ITEM_RULE, ListingResult
from classifiers.model import Evidence, Kind, Listing
from classifiers.rules import Rules
from classifiers.similar import UNLISTED, Opinion

__all__ = ["SecondOpinion", "read_second_opinion"]

_ADMITTED = (Listing.DUTY, Listing.ASSIST)
_KINDS = {k.value: k for k in Kind}


@dataclass(frozen=True, slots=True)
class SecondOpinion:
    kind: KindResult
    listing: ListingResult
    evidence: Evidence | None  # None: not consulted


def read_second_opinion(text: str, *, kind: KindResult, listing: ListingResult, rules: Rules) -> SecondOpinion:
    """The kind and listing after the second opinion, and what the neighbours said. Never raises."""
    settings = rules.similar.settings
    open_item = (listing.evidence.rule == NO_ITEM_RULE and listing.item is None) or listing.rival is not None
    weak_kind = kind.score <= settings.weak_kind_score
    if not (open_item or weak_kind) or not rules.similar.examples:
        return SecondOpinion(kind, listing, None)
    opinion = rules.similar.opinion(text)
    notes: list[str] = []
    if open_item:
        listing = _item(opinion, listing, rules, notes)
    if weak_kind:
        kind = _kind(opinion, kind, rules, notes)
    if not opinion.neighbours:
        return SecondOpinion(kind, listing, Evidence("相近通知:无", (), "没有足够相近的已标注通知"))
    why = f"最相近的 {len(opinion.neighbours)} 条已标注通知(最高相似度 {opinion.top_similarity:.2f})" + ";".join(["", *notes])
    return SecondOpinion(kind, listing, Evidence("相近通知", opinion.neighbours, why))


def _item(opinion: Opinion, listing: ListingResult, rules: Rules, notes: list[str]) -> ListingResult:
    vote = opinion.item
    if vote is None:
        return listing
    item = rules.items.get(vote.label)
    share = f"{vote.share:.0%}"
    if vote.label == UNLISTED or item is None:
        notes.append(f"多数({share})也未列入清单" if vote.label == UNLISTED else f"多数({share})属 {vote.label}")
        return listing
    if item.listing not in _ADMITTED:
        notes.append(f"多数({share})属负面清单 {vote.label}「{item.text}」,不据此拒绝,请管理员判断")
        return listing
    if vote.share < rules.similar.settings.item_share:
        notes.append(f"{share} 属 {vote.label},不足以认定")
        return listing
    if listing.rival is not None and vote.label != listing.rival:  # held between a negative and an admitted item
        notes.append(f"多数({share})属 {vote.label},与规则所见的 {listing.rival} 不一致,仍待复核")
        return listing
    notes.append(f"{share} 属 {vote.label}「{item.text}」,按此准入,需人工复核")
    seen = f"规则在负面清单 {listing.candidate} 与 {listing.rival} 之间未能决断" if listing.rival else "规则未命中清单用语"
    why = f"{seen};与已标注为 {vote.label}「{item.text}」的通知相近({share}),按此准入,需人工复核"
    ev = Evidence(f"准入:{vote.label}(相近通知)", opinion.neighbours, why)
    return replace(listing, listing=item.listing, item=vote.label, evidence=ev, needs_review=True, candidate=None)


def _kind(opinion: Opinion, kind: KindResult, rules: Rules, notes: list[str]) -> KindResult:
    vote = opinion.kind
    if vote is None or vote.label == kind.kind.value or vote.share < rules.similar.settings.kind_share:
        return kind
    new = _KINDS[vote.label]
    rule = rules.kinds[new]
    notes.append(f"类型多数({vote.share:.0%})为{rule.name_zh}")
    why = f"类型用语很少(得分 {kind.score:g});相近的已标注通知多为{rule.name_zh}({vote.share:.0%}),取{rule.name_zh}"
    return replace(kind, kind=new, nature=rule.nature, evidence=Evidence(f"类型:{new.value}(相近通知)", kind.evidence.words, why))
