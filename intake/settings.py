"""Typed configuration: `config.toml` read once into frozen pydantic models.

Every key may be overridden from the environment as ``JIANFU_<SECTION>_<KEY>``
(for example ``JIANFU_WECHAT_TOKEN`` or ``JIANFU_DATABASE_URL``). A missing or
malformed key raises :class:`ConfigError` whose message is one line naming the
key, so start-up stops with something an operator can act on.
"""

from __future__ import annotations

import base64
import binascii
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "ConfigError",
    "Settings",
    "load_settings",
    "DEMO_SECRETS",
]


class ConfigError(Exception):
    """Configuration is missing, malformed or unsafe; the message names the key."""


# Values shipped in the demo config.toml; production refuses to start with them.
DEMO_SECRETS = frozenset(
    {
        "jianfu-demo-token",
        "jianfu-demo-wecom-token",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
        "demo-wecom-secret",
        "demo-session-secret-change-me-please-0123456789",
        "demo-app-secret",
    }
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    environment: Literal["development", "production", "test"] = "development"
    public_url: str = "http://127.0.0.1:8080"
    body_limit_bytes: int = Field(64 * 1024, ge=1024)
    reply_budget_s: float = Field(4.0, gt=0, le=4.8)
    timestamp_window_s: int = Field(300, ge=1)
    session_secret: str = Field(min_length=32)
    log_level: str = "INFO"


class DatabaseSettings(_Frozen):
    url: str = "sqlite:///data/jianfu.db"
    echo: bool = False
    pool_size: int = Field(10, ge=1)
    batch_max: int = Field(64, ge=1)
    batch_wait_ms: float = Field(2.0, ge=0)


def _check_aes_key(value: str) -> str:
    if len(value) != 43:
        raise ValueError("EncodingAESKey must be exactly 43 characters (copy it from the WeChat console)")
    try:
        raw = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not valid base64 (letters and digits only)") from exc
    if len(raw) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return value


class WeChatSettings(_Frozen):
    token: str = Field(min_length=3, max_length=32)
    app_id: str = Field(min_length=1)
    app_secret: str = ""
    encoding_aes_key: str
    api_base: str = "https://api.weixin.qq.com"
    template_id: str = ""
    template_fields: dict[str, str] = Field(default_factory=dict)

    _aes = field_validator("encoding_aes_key")(classmethod(lambda cls, v: _check_aes_key(v)))


class WeComSettings(_Frozen):
    corp_id: str = Field(min_length=1)
    agent_id: str = Field(min_length=1)
    token: str = Field(min_length=3, max_length=32)
    encoding_aes_key: str
    secret: str = ""
    api_base: str = "https://qyapi.weixin.qq.com"

    _aes = field_validator("encoding_aes_key")(classmethod(lambda cls, v: _check_aes_key(v)))


class NotifySettings(_Frozen):
    # channel per recipient kind: "log", "inbox", "wecom_app", "wecom_robot", "wechat"
    heads: str = "inbox"
    admins: str = "inbox"
    clerks: str = "inbox"
    max_attempts: int = Field(6, ge=1)
    backoff_base_s: float = Field(30.0, gt=0)
    robot_per_minute: int = Field(20, ge=1)
    robot_webhooks: dict[str, str] = Field(default_factory=dict)


class ScheduleSettings(_Frozen):
    # reminder offsets: days relative to the due date and the local time to send
    reminder_days: tuple[int, ...] = (-3, -1, 0, 1)
    reminder_time: str = "09:00"
    jitter_minutes: int = Field(7, ge=1, le=20)
    sweep_seconds: int = Field(30, ge=1)
    digest_day: int = Field(1, ge=1, le=28)
    digest_hour: int = Field(8, ge=0, le=23)
    short_notice_working_days: int = Field(3, ge=1)
    hours_per_kind: dict[str, float] = Field(default_factory=dict)
    staff_hours_per_month: float = Field(160.0, gt=0)
    lock_retry_seconds: float = Field(60.0, gt=0)  # a process without the scheduler lock retries this often
    digest_chat_bytes: int = Field(2000, ge=200)  # chat text of a digest is cut to fit (link to the full one)
    digest_dir: str = "data/digests"  # charts and workbooks of sent digests, relative to config.toml


class RulesSettings(_Frozen):
    paths: tuple[str, ...] = ()


class TimezoneSettings(_Frozen):
    name: str = "Asia/Shanghai"

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)") from exc
        return value


class CommunitySettings(_Frozen):
    name: str = Field(min_length=2)
    staff: int = Field(8, ge=1)


class DistrictSettings(_Frozen):
    name: str = "示范街道"
    communities: tuple[CommunitySettings, ...] = ()
    departments: tuple[str, ...] = ()


class DialogueSettings(_Frozen):
    timeout_minutes: int = Field(30, ge=1)


class Settings(_Frozen):
    server: ServerSettings
    database: DatabaseSettings = DatabaseSettings()
    wechat: WeChatSettings
    wecom: WeComSettings
    notify: NotifySettings = NotifySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    rules: RulesSettings = RulesSettings()
    timezone: TimezoneSettings = TimezoneSettings()
    district: DistrictSettings = DistrictSettings()
    dialogue: DialogueSettings = DialogueSettings()
    base_dir: Path = Path(".")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone.name)

    @property
    def community_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.district.communities)

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

    def demo_secrets_in_use(self) -> list[str]:
        found = []
        candidates = {
            "server.session_secret": self.server.session_secret,
            "wechat.token": self.wechat.token,
            "wechat.encoding_aes_key": self.wechat.encoding_aes_key,
            "wechat.app_secret": self.wechat.app_secret,
            "wecom.token": self.wecom.token,
            "wecom.encoding_aes_key": self.wecom.encoding_aes_key,
            "wecom.secret": self.wecom.secret,
        }
        for key, value in candidates.items():
            if value in DEMO_SECRETS:
                found.append(key)
        return found


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Overlay JIANFU_<SECTION>_<KEY> variables on the parsed TOML (strings, as TOML would give)."""
    for name, value in environ.items():
        if not name.startswith("JIANFU_"):
            continue
        rest = name[len("JIANFU_") :].lower()
        section, _, key = rest.partition("_")
        if not key or section not in Settings.model_fields or section == "base_dir":
            continue
        data.setdefault(section, {})
        if isinstance(data[section], dict):
            data[section][key] = value
    return data


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if first["type"] == "missing":
        return f"config key [{key}] is missing: add it to config.toml or set JIANFU_{key.upper().replace('.', '_')}"
    if first["type"] == "extra_forbidden":
        return f"config key [{key}] is not a known setting: remove it or check its spelling"
    return f"config key [{key}] is invalid: {msg}"


def load_settings(path: str | Path = "config.toml", *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration once; raise ConfigError with one line on any problem."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found: pass --config PATH or run from the project folder") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    data = _apply_env(data, environ)
    data["base_dir"] = path.resolve().parent
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
    if settings.server.environment == "production":
        demo = settings.demo_secrets_in_use()
        if demo:
            raise ConfigError(
                f"config key [{demo[0]}] still holds the shipped demo secret; production refuses to start "
                f"with it: set a real value (or JIANFU_{demo[0].upper().replace('.', '_')})"
            )
    return settings
