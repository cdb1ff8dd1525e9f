"""A second opinion by likeness, for notices whose words the rules do not know.

Keyword rules read the words they were given; a notice that describes an item in other words falls
to `unlisted`, and a notice with few kind words gets a guessed kind. The second opinion looks for the
labelled notices most like this one: character 2- and 3-grams weighted by TF-IDF, cosine similarity,
the `k` nearest neighbours voting with their similarity. The labelled notices are the shipped
examples (`rules/examples.jsonl`: dev, our own cases and the tune half of the corpus, never its check
half) plus any `[similar] examples` of the rule data (corrections a deployment has kept).

It is consulted only where the rules are weak, and it only ever makes a task *more* reviewed:

* **item** — when the rules find no item, and the neighbours agree (`item_share` of the vote) on an
  admitted item, the task gets that item but is marked `needs_review`; neighbours that point to a
  negative item or to `unlisted` leave it unlisted (their candidate is named in the evidence);
* **kind** — when the rules' kind scored at most `weak_kind_score` (shipped: 0, no kind word at all,
  where the rules could only guess `adhoc`), and the neighbours agree (`kind_share`) on another kind,
  that kind is taken, and the evidence says so.

A labelled notice is never its own neighbour (similarity at or above `same_notice`), so a corpus
measured against examples drawn from it is measured as if each notice were new.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Example", "Opinion", "SimilarIndex", "SimilarSettings", "build_index", "char_grams"]

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
GRAM_SIZES = (2, 3)
UNLISTED = "unlisted"


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled notice: its text, its kind and its item code (None: unlisted).

    A correction labels only what the admin decided: `kind` None when the kind was not, and
    `item_labelled` False when the listing and item were not. Such a notice is still a neighbour, but
    votes only on what it labels.
    """

    id: str
    text: str
    kind: str | None
    item: str | None
    item_labelled: bool = True


@dataclass(frozen=True, slots=True)
class SimilarSettings:
    k: int = 5
    item_share: float = 0.7
    kind_share: float = 0.5
    weak_kind_score: float = 0.0
    min_similarity: float = 0.1
    same_notice: float = 0.95
    max_df_share: float = 1.0  # grams in more than this share of the examples are left out (1.0: none)


@dataclass(frozen=True, slots=True)
class Vote:
    label: str
    share: float  # of the neighbours' summed similarity


@dataclass(frozen=True, slots=True)
class Opinion:
    """What the nearest labelled notices say: the winning kind and item, their shares, and who they are."""

    kind: Vote | None
    item: Vote | None
    top_similarity: float
    neighbours: tuple[str, ...]


def char_grams(text: str) -> Counter[str]:
    """Character 2- and 3-grams of the Chinese runs of `text` (digits, Latin and punctuation dropped)."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        for n in GRAM_SIZES:
            grams += [run[i : i + n] for i in range(len(run) - n + 1)]
    return Counter(grams)


class SimilarIndex:
    """An inverted index of the examples' TF-IDF vectors (unit length). Read-only after construction."""

    def __init__(self, examples: Sequence[Example], settings: SimilarSettings) -> None:
        self.examples = tuple(examples)
        self.settings = settings
        counts = [char_grams(e.text) for e in self.examples]
        df: Counter[str] = Counter()
        for grams in counts:
            df.update(grams.keys())
        n = len(self.examples)
        limit = max(1.0, settings.max_df_share * n)
        self.idf = {g: math.log((1 + n) / (1 + d)) + 1.0 for g, d in df.items() if d <= limit}
        self.rows = {g: i for i, g in enumerate(self.idf)}
        # a sparse gram-by-example matrix (compressed rows: one row a gram, the examples that hold it):
        # a query gathers the rows of its own grams, so its cost follows their postings, and memory
        # follows the grams the examples hold, however many corrections a deployment keeps
        postings: list[list[tuple[int, float]]] = [[] for _ in self.rows]
        for column, grams in enumerate(counts):
            for gram, weight in self._vector(grams).items():
                postings[self.rows[gram]].append((column, weight))
        lengths = np.fromiter((len(p) for p in postings), dtype=np.int64, count=len(postings))
        self.indptr = np.concatenate(([0], np.cumsum(lengths)))
        self.cols = np.fromiter((c for p in postings for c, _ in p), dtype=np.int64, count=int(self.indptr[-1]))
        self.vals = np.fromiter((w for p in postings for _, w in p), dtype=np.float32, count=int(self.indptr[-1]))

    def _vector(self, grams: Counter[str]) -> dict[str, float]:
        idf = self.idf
        vector = {g: (1.0 + math.log(c)) * idf[g] for g, c in grams.items() if g in idf}
        norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
        return {g: w / norm for g, w in vector.items()}

    def neighbours(self, text: str) -> list[tuple[float, Example]]:
        """The `k` most similar examples, best first, leaving out the notice itself (`same_notice`)."""
        vector = self._vector(char_grams(text))
        if not vector or not self.examples:
            return []
        rows = np.fromiter((self.rows[g] for g in vector), dtype=np.int64, count=len(vector))
        weights = np.fromiter(vector.values(), dtype=np.float32, count=len(vector))
        starts, lengths = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        # the positions of every posting of the query's grams, row after row, in one vector
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        positions = offsets + np.arange(int(lengths.sum()))
        contributions = self.vals[positions] * np.repeat(weights, lengths)
        scores = np.bincount(self.cols[positions], weights=contributions, minlength=len(self.examples))
        scores[scores >= self.settings.same_notice] = 0.0
        best = np.argsort(-scores, kind="stable")[: self.settings.k]
        return [(float(scores[i]), self.examples[i]) for i in best if scores[i] > 0.0]

    def opinion(self, text: str) -> Opinion:
        """The neighbours' vote, or none when even the nearest is less similar than `min_similarity`."""
        near = self.neighbours(text)
        if not near or near[0][0] < self.settings.min_similarity:
            return Opinion(None, None, 0.0, ())
        return Opinion(
            kind=_vote((s, e.kind) for s, e in near if e.kind is not None),
            item=_vote((s, e.item or UNLISTED) for s, e in near if e.item_labelled),
            top_similarity=near[0][0],
            neighbours=tuple(e.id for _, e in near),
        )

    def without(self, ids: Iterable[str]) -> SimilarIndex:
        """The same index without the examples of `ids` (cross-validation: a fold never sees itself)."""
        leave = set(ids)
        return SimilarIndex([e for e in self.examples if e.id not in leave], self.settings)


@functools.lru_cache(maxsize=4)
def build_index(examples: tuple[Example, ...], settings: SimilarSettings) -> SimilarIndex:
    """The index of `examples`, shared by every Rules object with the same examples and settings."""
    return SimilarIndex(examples, settings)


def _vote(pairs: Iterable[tuple[float, str]]) -> Vote | None:
    votes: dict[str, float] = defaultdict(float)
    for similarity, label in pairs:
        votes[label] += similarity
    if not votes:
        return None
    total = sum(votes.values())
    label, weight = max(votes.items(), key=lambda kv: kv[1])
    return Vote(label, weight / total if total else 0.0)
