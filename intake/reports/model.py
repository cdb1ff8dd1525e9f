"""The monthly digest as data: what :mod:`intake.reports.digest` assembles from the figures and
:mod:`intake.reports.render` and :mod:`intake.reports.chart` turn into text, workbooks and pictures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from intake.reports.community import CommunitySide

__all__ = ["DISTRICT", "KindRow", "DepartmentRow", "LeagueRow", "RatingRow", "Trend", "HeatMap", "Digest", "share"]

DISTRICT = "district"
STREET_PREFIX = "street:"  # a street's digest: scope "street:ID" (intake.reports.streets)


@dataclass(frozen=True)
class KindRow:
    kind: str
    label: str
    tasks: int
    hours: float
    quantities: tuple[tuple[str, int], ...]  # (unit, summed value), e.g. ("户", 400)


@dataclass(frozen=True)
class DepartmentRow:
    department: str
    tasks: int
    hours: float
    administrative: int
    refused: int


@dataclass(frozen=True)
class LeagueRow:
    department: str
    tasks: int
    refused: int
    refused_share: float
    unfunded: int
    short_notice: int
    duplicates: int
    repeat_collection: int
    hours: float
    rating: float | None


@dataclass(frozen=True)
class RatingRow:
    department: str
    average: float
    count: int


@dataclass(frozen=True)
class Trend:
    month: str
    tasks: int
    administrative_share: float
    hours: float
    tasks_change: int
    hours_change: float


@dataclass(frozen=True)
class HeatMap:
    communities: tuple[str, ...]
    departments: tuple[str, ...]
    cells: tuple[tuple[int, ...], ...]  # cells[community][department] = assignments


@dataclass(frozen=True)
class Digest:
    month: str
    scope: str  # community name or "district"
    district: str
    tasks: int
    assignments: int
    by_department: tuple[DepartmentRow, ...]
    by_kind: tuple[KindRow, ...]
    administrative: int
    service: int
    listing: tuple[tuple[str, int], ...]  # (duty|assist|negative|unlisted, tasks)
    refused: int
    pending_review: int
    unfunded_assist: int
    unfunded_codes: tuple[str, ...]
    short_notice: int
    duplicates: int
    repeat_collection: int
    due: int
    on_time: int
    late: int
    overdue: int
    not_yet_due: int
    estimated_hours: float
    capacity_hours: float
    staff: int
    top_departments: tuple[DepartmentRow, ...]
    ratings: tuple[RatingRow, ...]
    trend: Trend
    league: tuple[LeagueRow, ...] = ()
    heatmap: HeatMap | None = None
    community: CommunitySide | None = None  # reports, counter work, bypassing departments, trace demands
    escalations: tuple[tuple[str, int], ...] = ()  # 层层加码 per forwarding office (the area's digests)
    label: str = ""  # the area's name when it is not the district's (a street digest: 示范区甲街道)

    @property
    def is_district(self) -> bool:
        """An area's digest (the district, or a street: ``street:ID``), not one community's."""
        return self.scope == DISTRICT or self.scope.startswith(STREET_PREFIX)

    @property
    def administrative_share(self) -> float:
        return share(self.administrative, self.administrative + self.service)

    @property
    def on_time_rate(self) -> float | None:
        """On time over the assignments settled by now (未到期 ones left out); see figures.Timeliness."""
        settled = self.due - self.not_yet_due
        return None if settled == 0 else round(self.on_time / settled, 4)

    @property
    def load_ratio(self) -> float:
        return share(self.estimated_hours, self.capacity_hours)

    @property
    def title(self) -> str:
        scope = self.label or (self.district if self.is_district else self.scope)
        year, month = self.month.split("-")
        return f"{scope}{year}年{int(month)}月减负月报"


def share(part: float, whole: float) -> float:
    return 0.0 if not whole else round(part / whole, 4)

