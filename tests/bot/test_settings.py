"""Typed configuration: one clear line for a bad key, environment overrides, production refuses demo secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings
from tests.conftest import CONFIG


def test_shipped_config_loads_with_the_demo_district() -> None:
    settings = load_settings(CONFIG, environ={})
    assert {"幸福社区", "和平社区", "光明社区"} <= set(settings.community_names)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("/data/jianfu.db")  # relative to the config file
    assert settings.tz.key == "Asia/Shanghai"


def test_environment_overrides_secrets_and_values() -> None:
    settings = load_settings(CONFIG, environ={"JIANFU_WECHAT_TOKEN": "fromenv123", "JIANFU_SERVER_PORT": "9090"})
    assert settings.wechat.token == "fromenv123"
    assert settings.server.port == 9090


def test_settings_are_frozen() -> None:
    settings = load_settings(CONFIG, environ={})
    with pytest.raises(ValueError):
        settings.server.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"JIANFU_SERVER_PORT": "eighty"}, "[server.port]"),
        ({"JIANFU_WECHAT_ENCODING_AES_KEY": "short"}, "[wechat.encoding_aes_key]"),
        ({"JIANFU_TIMEZONE_NAME": "Mars/Olympus"}, "[timezone.name]"),
        ({"JIANFU_SERVER_ENVIRONMENT": "production"}, "demo secret"),
    ],
)
def test_bad_values_stop_with_one_line_naming_the_key(environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(CONFIG, environ=environ)
    message = str(info.value)
    assert names in message and "\n" not in message


def test_missing_key_and_unknown_key_and_missing_file(tmp_path: Path) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    missing = tmp_path / "missing.toml"
    missing.write_text(text.replace('token = "jianfu-demo-token"\n', ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[wechat.token\] is missing.*JIANFU_WECHAT_TOKEN"):
        load_settings(missing, environ={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(text.replace("[server]\n", "[server]\ncolour = \"red\"\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[server.colour\] is not a known setting"):
        load_settings(unknown, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nowhere.toml", environ={})


def test_production_starts_once_every_secret_is_real() -> None:
    environ = {
        "JIANFU_SERVER_ENVIRONMENT": "production",
        "JIANFU_SERVER_SESSION_SECRET": "a-real-session-secret-of-enough-length-000",
        "JIANFU_WECHAT_TOKEN": "realtoken1",
        "JIANFU_WECHAT_APP_SECRET": "real-app-secret",
        "JIANFU_WECHAT_ENCODING_AES_KEY": "Zyxwvutsrqponmlkjihgfedcba9876543210ABCDEFG",
        "JIANFU_WECOM_TOKEN": "realtoken2",
        "JIANFU_WECOM_SECRET": "real-wecom-secret",
        "JIANFU_WECOM_ENCODING_AES_KEY": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg",
        "JIANFU_WECOM_BOT_TOKEN": "realtoken3",
        "JIANFU_WECOM_BOT_ENCODING_AES_KEY": "Bot0wvutsrqponmlkjihgfedcba9876543210ABCDEF",
    }
    assert load_settings(CONFIG, environ=environ).server.environment == "production"


def test_an_enabled_wecom_bot_without_its_key_stops_start_up_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[wecom_bot\]"):
        load_settings(CONFIG, environ={"JIANFU_WECOM_BOT_ENCODING_AES_KEY": "short"})
    settings = load_settings(CONFIG, environ={"JIANFU_WECOM_BOT_ENABLED": "false", "JIANFU_WECOM_BOT_TOKEN": ""})
    assert settings.wecom_bot.enabled is False  # a disabled bot needs nothing
