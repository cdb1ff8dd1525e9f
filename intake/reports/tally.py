"""Additive counts and their fast sums: what :mod:`intake.reports.figures` adds up.

A group of the figures' queries (department, kind, unit; per community or not) is a :data:`Vector`: its
counts in :class:`Counts` field order, hours in whole thousandths as SQL summed them
(:func:`intake.reports.measures.hours_sum`), summed column by column (exactly, in any order) and turned
into :class:`Counts` once per row of a report.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from intake.reports.measures import HOURS_SUM_UNIT, LISTINGS, conditions

__all__ = ["Counts", "GroupKey", "Vector", "Tally", "zero_vector", "summed", "as_counts", "merge_assignments",
           "CONDITION_NAMES", "ASSIGNMENTS_AT", "HOURS_AT"]


@dataclass(frozen=True)
class Counts:
    """Additive counts of a set of tasks (or assignments); ``a + b`` adds field by field."""

    tasks: int = 0
    assignments: int = 0
    administrative: int = 0
    duty: int = 0
    assist: int = 0
    negative: int = 0
    unlisted: int = 0
    refused: int = 0
    pending_review: int = 0
    withdrawn: int = 0
    unfunded: int = 0
    short_notice: int = 0
    duplicates: int = 0
    repeat_collection: int = 0
    hours: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f: getattr(self, f) + getattr(other, f) for f in _COUNT_FIELDS})

    @property
    def service(self) -> int:
        return self.tasks - self.administrative

    @property
    def administrative_share(self) -> float | None:
        return None if not self.tasks else round(self.administrative / self.tasks, 4)

    @property
    def listing(self) -> tuple[tuple[str, int], ...]:
        return tuple((name, getattr(self, name)) for name in LISTINGS)

    def rounded(self) -> Counts:
        # not dataclasses.replace: a province's digests build Counts by the hundred thousand
        return Counts(**{f: getattr(self, f) for f in _COUNT_FIELDS[:-1]}, hours=round(self.hours, 1))


_COUNT_FIELDS = tuple(f.name for f in dataclasses.fields(Counts))


CONDITION_NAMES = tuple(conditions())  # built once: building the expressions per row cost seconds
GroupKey = tuple[str, str, str | None]  # (department, kind, quantity unit)


Vector = list[int]  # a Counts as whole numbers in _COUNT_FIELDS order, hours in thousandths (exact in any order)
ASSIGNMENTS_AT, HOURS_AT = _COUNT_FIELDS.index("assignments"), _COUNT_FIELDS.index("hours")
_CONDITIONS_END = 2 + len(CONDITION_NAMES)  # in a row of measures_of: n, qty, the conditions, (hours)
assert len(_COUNT_FIELDS) - 1 == HOURS_AT, "Counts.hours must stay its last field"
assert tuple(_COUNT_FIELDS.index(n) for n in CONDITION_NAMES) == tuple(range(2, _CONDITIONS_END)), \
    "Counts lists the conditions in conditions() order, after tasks and assignments"


def zero_vector() -> Vector:
    return [0] * len(_COUNT_FIELDS)


def summed(vectors: Sequence[Vector]) -> Vector:
    """Field by field: whole numbers, so the order of the rows never changes a figure."""
    if len(vectors) == 1:
        return vectors[0]
    return list(map(sum, zip(*vectors, strict=True))) if vectors else zero_vector()


def as_counts(vector: Vector) -> Counts:
    """The vector as rounded Counts (hours to one decimal), built once."""
    args: list[Any] = [*vector[:HOURS_AT], round(vector[HOURS_AT] / HOURS_SUM_UNIT, 1)]
    return Counts(*args)


@dataclass
class Tally:
    groups: dict[GroupKey, Vector] = dataclasses.field(default_factory=dict)
    quantities: dict[tuple[str, str], int] = dataclasses.field(default_factory=lambda: defaultdict(int))

    def add(self, key: GroupKey, measures: Sequence[Any], *, per_assignment: bool) -> None:
        """`measures`: n, qty, the conditions' sums and (per assignment) hours, as measures_of lays them out."""
        n = int(measures[0])
        vector = [n, n if per_assignment else 0, *map(int, measures[2:_CONDITIONS_END]),
                  int(measures[-1] or 0) if per_assignment else 0]
        before = self.groups.get(key)
        self.groups[key] = vector if before is None else summed([before, vector])
        if key[2] is not None and measures[1] is not None:
            self.quantities[(key[1], key[2])] += int(measures[1])


def merge_assignments(task_groups: Mapping[GroupKey, Vector], tallies: Iterable[Tally]) -> dict[GroupKey, Vector]:
    """An area's groups: its tasks' counts, with the assignments and hours of its communities' `tallies`."""
    groups = {key: list(vector) for key, vector in task_groups.items()}
    for tally in tallies:
        for key, vector in tally.groups.items():
            mine = groups.get(key)
            if mine is None:
                mine = groups[key] = zero_vector()
            mine[ASSIGNMENTS_AT] += vector[ASSIGNMENTS_AT]
            mine[HOURS_AT] += vector[HOURS_AT]
    return groups
