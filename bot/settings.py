"""Typed configuration: `config.toml` read once into frozen pydantic models.

Every key may be overridden from the environment as ``JIANFU_<SECTION>_<KEY>``
(for example ``JIANFU_WECHAT_TOKEN`` or ``JIANFU_DATABASE_URL``). A missing or
malformed key raises :class:`ConfigError` whose message is one line naming the
key, so start-up stops with something an operator can act on.

The domain's own sections live in :class:`intake.settings.IntakeSettings`; this
module adds what only the HTTP edge reads: ``[server]``, ``[wechat]``, ``[wecom]`` and ``[wecom_bot]``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from intake.prune import replies_floor, sessions_floor
from intake.settings import ConfigError, FrozenModel, IntakeSettings

__all__ = ["ConfigError", "Settings", "load_settings", "DEMO_SECRETS"]


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
        "jianfu-demo-bot-token",
        "jianfuDemoBotKey0123456789abcdefghijklmnopq",
    }
)


class ServerSettings(FrozenModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    environment: Literal["development", "production", "test"] = "development"
    public_url: str = "http://127.0.0.1:8080"
    body_limit_bytes: int = Field(64 * 1024, ge=1024)
    reply_budget_s: float = Field(4.0, gt=0, le=4.8)
    timestamp_window_s: int = Field(300, ge=1)
    session_secret: str = Field(min_length=32)
    log_level: str = "INFO"
    # the proxies (addresses or networks) whose X-Forwarded-For / X-Forwarded-Proto are believed
    trusted_proxies: tuple[str, ...] = ()
    # who may read GET /metrics (the client address, after trusted_proxies)
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    session_idle_minutes: int = Field(60, ge=1)  # a console session unused this long ends
    session_absolute_hours: int = Field(12, ge=1)  # ... and any console session ends this long after login
    hsts_max_age_s: int = Field(31536000, ge=0)  # Strict-Transport-Security on HTTPS answers (0: none)
    dashboard_max_age_s: float = Field(60.0, ge=0)  # a dashboard is kept this long per scope in a process (0: none)
    digest_wait_s: float = Field(0.25, ge=0)  # a digest page waits this long for its build, then says "being built"

    @field_validator("trusted_proxies", "metrics_allow", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        """From the environment, a comma-separated list (JIANFU_SERVER_TRUSTED_PROXIES=10.0.0.5,10.0.0.6)."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (like 10.0.0.5 or 10.0.0.0/8)") from None
        return value


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


class WeChatSettings(FrozenModel):
    token: str = Field(min_length=3, max_length=32)
    app_id: str = Field(min_length=1)
    app_secret: str = ""
    encoding_aes_key: str
    api_base: str = "https://api.weixin.qq.com"
    template_id: str = ""
    template_fields: dict[str, str] = Field(default_factory=dict)
    # refuse plaintext and compatible-mode callbacks (only 安全模式); unset: true in production
    require_encryption: bool | None = None

    _aes = field_validator("encoding_aes_key")(classmethod(lambda cls, v: _check_aes_key(v)))


class WeComSettings(FrozenModel):
    corp_id: str = Field(min_length=1)
    agent_id: str = Field(min_length=1)
    token: str = Field(min_length=3, max_length=32)
    encoding_aes_key: str
    secret: str = ""
    api_base: str = "https://qyapi.weixin.qq.com"

    _aes = field_validator("encoding_aes_key")(classmethod(lambda cls, v: _check_aes_key(v)))


class WeComBotSettings(FrozenModel):
    """``[wecom_bot]``: the WeCom intelligent bot (智能机器人) in API mode, served at ``/wecom/bot``."""

    enabled: bool = False
    token: str = Field("", max_length=32)
    encoding_aes_key: str = ""
    aibot_id: str = ""  # when set, callbacks of another bot are refused
    media_timeout_s: float = Field(20.0, gt=0, le=120)  # downloading an encrypted picture or file

    @model_validator(mode="after")
    def _complete(self) -> WeComBotSettings:
        if self.enabled:
            if len(self.token) < 3:
                raise ValueError("token is needed when the bot is enabled (the bot page's API 设置 → Token)")
            _check_aes_key(self.encoding_aes_key)
        return self


class Settings(IntakeSettings):
    server: ServerSettings
    wechat: WeChatSettings
    wecom: WeComSettings
    wecom_bot: WeComBotSettings = WeComBotSettings()

    @property
    def wechat_requires_encryption(self) -> bool:
        """``[wechat] require_encryption``, or, when unset, whether this is production."""
        if self.wechat.require_encryption is not None:
            return self.wechat.require_encryption
        return self.server.environment == "production"

    def retention_problem(self) -> str | None:
        """One line naming the ``[retention]`` key that would prune rows still needed, or None."""
        window = dt.timedelta(seconds=self.server.timestamp_window_s)
        idle = dt.timedelta(minutes=self.server.session_idle_minutes)
        replies, sessions = replies_floor(self.server.timestamp_window_s), sessions_floor(idle)
        if dt.timedelta(hours=self.retention.replies_hours) < replies:
            return (f"config key [retention.replies_hours] is too short: nonces must be kept for two "
                    f"[server] timestamp_window_s ({window}) and a minute, at least {replies}")
        if dt.timedelta(days=self.retention.sessions_days) < sessions:
            return (f"config key [retention.sessions_days] is too short: it must exceed "
                    f"[server] session_idle_minutes ({idle}) and a minute, at least {sessions}")
        return None

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
        if self.wecom_bot.enabled:
            candidates |= {"wecom_bot.token": self.wecom_bot.token,
                           "wecom_bot.encoding_aes_key": self.wecom_bot.encoding_aes_key}
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
        # the longest section that prefixes the name: JIANFU_WECOM_BOT_TOKEN is [wecom_bot] token
        sections = [s for s in Settings.model_fields if s != "base_dir" and rest.startswith(f"{s}_")]
        if not sections:
            continue
        section = max(sections, key=len)
        key = rest[len(section) + 1 :]
        if not key:
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
    problem = settings.retention_problem()
    if problem is not None:
        raise ConfigError(problem)
    if settings.server.environment == "production":
        demo = settings.demo_secrets_in_use()
        if demo:
            raise ConfigError(
                f"config key [{demo[0]}] still holds the shipped demo secret; production refuses to start "
                f"with it: set a real value (or JIANFU_{demo[0].upper().replace('.', '_')})"
            )
    return settings
