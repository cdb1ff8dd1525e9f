"""The domain's sections of `config.toml` as frozen pydantic models.

``bot.settings`` reads the file once (with environment overrides) into
``bot.settings.Settings``, which adds the server and chat-channel sections to
:class:`IntakeSettings`. Domain code takes an :class:`IntakeSettings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from intake.media.limits import MediaLimits

__all__ = ["ConfigError", "FrozenModel", "IntakeSettings"]


class ConfigError(Exception):
    """Configuration is missing, malformed or unsafe; the message names the key."""


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseSettings(FrozenModel):
    url: str = "sqlite:///data/jianfu.db"
    echo: bool = False
    pool_size: int = Field(10, ge=1)
    batch_max: int = Field(64, ge=1)
    batch_wait_ms: float = Field(2.0, ge=0)


class NotifySettings(FrozenModel):
    # channel per recipient kind: "log", "inbox", "wecom_app", "wecom_robot", "wechat"
    heads: str = "inbox"
    admins: str = "inbox"
    clerks: str = "inbox"
    max_attempts: int = Field(6, ge=1)
    backoff_base_s: float = Field(30.0, gt=0)
    robot_per_minute: int = Field(20, ge=1)
    robot_webhooks: dict[str, str] = Field(default_factory=dict)


class ScheduleSettings(FrozenModel):
    # reminder offsets: days relative to the due date and the local time to send
    reminder_days: tuple[int, ...] = (-3, -1, 0, 1)
    reminder_time: str = "09:00"
    jitter_minutes: int = Field(7, ge=1, le=20)
    sweep_seconds: int = Field(30, ge=1)
    digest_day: int = Field(1, ge=1, le=28)
    digest_hour: int = Field(8, ge=0, le=23)
    short_notice_working_days: int = Field(3, ge=1)
    # estimated hours per assignment (task × community): quantity × hours_per_unit[kind][unit] when the notice
    # states a quantity in a unit with a rate, kept within [hours_floor, hours_ceiling]; hours_per_kind otherwise
    hours_per_kind: dict[str, float] = Field(default_factory=dict)
    hours_per_unit: dict[str, dict[str, Annotated[float, Field(gt=0)]]] = Field(default_factory=dict)
    hours_floor: float = Field(0.5, ge=0)
    hours_ceiling: float = Field(160.0, gt=0)
    staff_hours_per_month: float = Field(160.0, gt=0)
    lock_retry_seconds: float = Field(60.0, gt=0)  # a process without the scheduler lock retries this often
    digest_chat_bytes: int = Field(2000, ge=200)  # chat text of a digest is cut to fit (link to the full one)
    digest_dir: str = "data/digests"  # charts and workbooks of sent digests, relative to config.toml
    # the open month's figures are counted for the dashboards this often by the scheduler's holder (one pass over
    # the month, off the event loop); a dashboard reads them while they are at most twice this old (0: every
    # dashboard of the open month aggregates the log itself)
    open_month_minutes: int = Field(5, ge=0, le=1440)

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> ScheduleSettings:
        if self.hours_floor > self.hours_ceiling:
            raise ValueError(f"hours_floor ({self.hours_floor}) is above hours_ceiling ({self.hours_ceiling})")
        return self


class RetentionSettings(FrozenModel):
    """How long rows that only guard the edges are kept; the prune job (:mod:`intake.prune`) deletes the rest."""

    replies_hours: float = Field(24.0, gt=0)  # processed_messages: first replies (retries) and signed URLs' nonces
    sessions_days: float = Field(30.0, gt=0)  # console sessions, counted from their last use (ended or expired)
    prune_minutes: int = Field(60, ge=1)  # how often the scheduler's holder prunes
    prune_batch: int = Field(500, ge=1, le=10_000)  # rows deleted per transaction: short write locks on SQLite


class RulesSettings(FrozenModel):
    paths: tuple[str, ...] = ()


class TimezoneSettings(FrozenModel):
    name: str = "Asia/Shanghai"

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)") from exc
        return value


class CommunitySettings(FrozenModel):
    name: str = Field(min_length=2)
    staff: int = Field(8, ge=1)


class StreetSettings(FrozenModel):
    """``[[district.streets]]``: a street, its communities and its own offices (街道社区服务中心 …)."""

    name: str = Field(min_length=2)
    communities: tuple[CommunitySettings, ...] = ()
    departments: tuple[str, ...] = ()


class DistrictSettings(FrozenModel):
    """One ``[[district]]`` table; the flat ``[district]`` form (name + communities) is one district with one street.

    ``street`` names the flat form's street (default: the district's own name, as the old set-ups used it).
    """

    name: str = "示范街道"
    city: str | None = None
    street: str | None = None
    communities: tuple[CommunitySettings, ...] = ()
    streets: tuple[StreetSettings, ...] = ()
    departments: tuple[str, ...] = ()
    # the district's own monthly digest time; unset: [schedule] digest_day / digest_hour
    digest_day: int | None = Field(None, ge=1, le=28)
    digest_hour: int | None = Field(None, ge=0, le=23)

    @model_validator(mode="after")
    def _one_form(self) -> DistrictSettings:
        if self.communities and self.streets:
            raise ValueError(f"district {self.name!r}: list communities under its streets, or flat, not both")
        return self

    @property
    def tree(self) -> tuple[StreetSettings, ...]:
        """The district's streets; the flat form is one street."""
        if self.streets:
            return self.streets
        return (StreetSettings(name=self.street or self.name, communities=self.communities),) if self.communities else ()

    @property
    def all_communities(self) -> tuple[CommunitySettings, ...]:
        return tuple(c for street in self.tree for c in street.communities)


class DialogueSettings(FrozenModel):
    timeout_minutes: int = Field(30, ge=1)


class ReviewSettings(FrozenModel):
    # an unlisted task still unreviewed after this many days is pushed to the admins again, and its
    # department and communities are told it is pending
    remind_after_days: int = Field(3, ge=1)


class AdmissionSettings(FrozenModel):
    # an assist task sent without funding (费未随事转): "flag" dispatches and counts it, "ask" also asks the
    # clerk once for the funding or working conditions, "hold" keeps it for review until funding is stated
    unfunded_assist: Literal["flag", "ask", "hold"] = "ask"


class LinkSettings(FrozenModel):
    digest_days: int = Field(45, ge=1)  # how long a head's signed digest link opens
    upload_minutes: int = Field(30, ge=1, le=55)  # an upload link's life (a WeCom bot's reply URL lasts an hour)
class MediaSettings(FrozenModel):
    """``[media]``: what a file or picture may cost to read, where originals are kept, link fetching."""

    max_bytes: int = Field(20 * 1024 * 1024, ge=1024)  # the original as received (also the media download cap)
    max_pages: int = Field(100, ge=1)  # PDF / OFD pages, spreadsheet sheets
    max_ocr_pages: int = Field(5, ge=0)  # scanned pages read by OCR (5-7 s of CPU each)
    max_cells: int = Field(200_000, ge=1)  # spreadsheet cells, all sheets together
    dir: str = "data/media"  # originals, by SHA-256, relative to config.toml
    ocr: bool = True  # read pictures and scans (RapidOCR in the worker process)
    warm_start: bool = True  # start the worker and load the OCR model at start-up, not on the first picture
    fetch_links: bool = False  # fetch the article behind a link message (allowed hosts only)
    link_hosts: tuple[str, ...] = ("mp.weixin.qq.com",)
    link_timeout_s: float = Field(5.0, gt=0, le=30)
    link_max_bytes: int = Field(2 * 1024 * 1024, ge=1024)

    def limits(self) -> MediaLimits:
        from intake.media.limits import MediaLimits

        return MediaLimits(max_bytes=self.max_bytes, max_pages=self.max_pages, max_ocr_pages=self.max_ocr_pages,
                           max_cells=self.max_cells)


class IntakeSettings(FrozenModel):
    """The sections the domain reads; ``bot.settings.Settings`` adds the server and the chat channels."""


    database: DatabaseSettings = DatabaseSettings()
    notify: NotifySettings = NotifySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    retention: RetentionSettings = RetentionSettings()
    rules: RulesSettings = RulesSettings()
    timezone: TimezoneSettings = TimezoneSettings()
    # ``[district]`` (one, flat) or ``[[district]]`` (several, with streets): always a tuple here
    districts: tuple[DistrictSettings, ...] = Field((DistrictSettings(),), validation_alias="district", min_length=1)
    dialogue: DialogueSettings = DialogueSettings()
    review: ReviewSettings = ReviewSettings()
    admission: AdmissionSettings = AdmissionSettings()
    links: LinkSettings = LinkSettings()
    media: MediaSettings = MediaSettings()
    base_dir: Path = Path(".")

    @field_validator("districts", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, dict | DistrictSettings) else value

    @model_validator(mode="after")
    def _unique_names(self) -> IntakeSettings:
        for kind, names in (("district", [d.name for d in self.districts]),
                            ("community", [c.name for d in self.districts for c in d.all_communities])):
            seen = {n for n in names if names.count(n) > 1}
            if seen:
                raise ValueError(f"{kind} names must be unique in the deployment: {sorted(seen)[0]!r} is listed twice")
        return self

    @property
    def district(self) -> DistrictSettings:
        """The first configured district (the only one in a flat set-up)."""
        return self.districts[0]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone.name)

    @property
    def community_names(self) -> tuple[str, ...]:
        return tuple(c.name for d in self.districts for c in d.all_communities)

    @property
    def media_dir(self) -> Path:
        return self.base_dir / self.media.dir

    @property
    def rule_paths(self) -> tuple[Path, ...]:
        return tuple(self.base_dir / p for p in self.rules.paths)

    @property
    def database_url(self) -> str:
        """The SQLAlchemy async URL, relative SQLite paths resolved against the config's folder."""
        url = self.database.url
        for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
            if url.startswith(prefix):
                path = url[len(prefix) :]
                if path in ("", ":memory:"):
                    return "sqlite+aiosqlite:///:memory:"
                if not Path(path).is_absolute():
                    path = str((self.base_dir / path).resolve())
                return "sqlite+aiosqlite:///" + path
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

