"""Settings: sources, precedence, refusal of unknown keys, and travel by pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError


def test_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path)
    assert settings.resolved_cache_dir == tmp_path / "cache"
    assert settings.default_timeframe == "1h"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUANTDESK_CACHE_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("QUANTDESK_DEFAULT_TIMEFRAME", "240m")
    settings = Settings.load()
    assert settings.resolved_cache_dir == tmp_path / "elsewhere"
    assert settings.default_timeframe == "4h"


def test_config_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "quantdesk.toml"
    config.write_text('[quantdesk]\nlog_level = "debug"\ndefault_timeframe = "1d"\n')
    monkeypatch.setenv("QUANTDESK_CONFIG_FILE", str(config))
    monkeypatch.setenv("QUANTDESK_DEFAULT_TIMEFRAME", "15m")
    settings = Settings.load()
    assert settings.log_level == "DEBUG"
    assert settings.default_timeframe == "15m"
    assert Settings.load(default_timeframe="1w").default_timeframe == "1w"


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("QUANTDESK_CACHE_DIRECTORY", "did you mean 'QUANTDESK_CACHE_DIR'"),
        ("QUANTDESK_WHATEVER", "unknown environment variable 'QUANTDESK_WHATEVER'"),
    ],
)
def test_unknown_environment_variables_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, message: str
) -> None:
    monkeypatch.setenv(variable, "x")
    with pytest.raises(ConfigurationError, match=message):
        Settings.load()


def test_unknown_keys_in_the_file_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "quantdesk.toml"
    config.write_text('log_levle = "INFO"\n')
    monkeypatch.setenv("QUANTDESK_CONFIG_FILE", str(config))
    with pytest.raises(ConfigurationError, match="did you mean 'log_level'"):
        Settings.load()


def test_unknown_keyword_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'cache_dir'"):
        Settings.load(cache_dirr="/tmp")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"default_timeframe": "15M"}, "did you mean '15m'"),
        ({"log_level": "loud"}, "log_level: .*must be one of"),
    ],
)
def test_bad_values_give_one_line(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        Settings.load(**overrides)
    assert "\n" not in str(caught.value)


def test_missing_or_broken_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QUANTDESK_CONFIG_FILE", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        Settings.load()
    broken = tmp_path / "broken.toml"
    broken.write_text("log_level = \n")
    monkeypatch.setenv("QUANTDESK_CONFIG_FILE", str(broken))
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        Settings.load()


def test_settings_are_frozen_and_travel_by_pickle(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path, log_level="INFO")
    with pytest.raises(ValueError, match="frozen"):
        settings.log_level = "DEBUG"  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(settings))
    assert copy == settings
    assert copy.resolved_cache_dir == tmp_path / "cache"
