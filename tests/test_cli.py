"""The quantdesk command, run as a user runs it.

Most tests run the CLI in process (:func:`tests.command_line.run_quantdesk`);
the smoke tests below run the installed console script as its own process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from quantdesk import __version__
from quantdesk.store.local_user import local_user_name
from quantdesk.store.users import list_users, remove_user
from tests.command_line import run_quantdesk, run_quantdesk_process

FETCH = ["data", "fetch", "sample:BTC/USDT", "--timeframe", "1h"]


quantdesk = run_quantdesk


def test_version(tmp_path: Path) -> None:
    result = quantdesk("--version", data_dir=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"quantdesk {__version__}"
    as_json = json.loads(quantdesk("version", "--json", data_dir=tmp_path).stdout)
    assert as_json["quantdesk"] == __version__


def test_fetch_twice_hits_the_cache_with_the_same_rows(tmp_path: Path) -> None:
    window = ["--start", "2024-01-01", "--end", "2024-03-01", "--json"]
    first = quantdesk(*FETCH, *window, data_dir=tmp_path)
    second = quantdesk(*FETCH, *window, data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert {"source", "symbol", "timeframe", "rows", "start", "end", "cache_hit"} <= set(one)
    assert (one["source"], one["symbol"], one["timeframe"]) == ("sample", "BTC/USDT", "1h")
    assert one["cache_hit"] is False
    assert two["cache_hit"] is True
    assert one["rows"] == two["rows"] == 1440
    assert one["start"] == two["start"] == "2024-01-01T00:00:00+00:00"
    assert one["end"] == two["end"] == "2024-02-29T23:00:00+00:00"
    assert Path(two["cache_path"]).is_dir()
    assert Path(two["cache_path"]).is_relative_to(tmp_path)


def test_widened_fetch_asks_only_for_the_new_part(tmp_path: Path) -> None:
    quantdesk(*FETCH, "--start", "2024-01-01", "--end", "2024-03-01", data_dir=tmp_path)
    wide = quantdesk(
        *FETCH, "--start", "2024-01-01", "--end", "2024-04-01", "--json", data_dir=tmp_path
    )
    summary = json.loads(wide.stdout)
    assert summary["cache_hit"] is False
    assert summary["fetched_ranges"] == [["2024-03-01T00:00:00+00:00", "2024-04-01T00:00:00+00:00"]]
    assert summary["rows"] == 91 * 24


def test_fetch_prints_a_readable_summary(tmp_path: Path) -> None:
    result = quantdesk(*FETCH, "--start", "2024-01-01", "--end", "2024-01-02", data_dir=tmp_path)
    assert result.returncode == 0
    assert "sample:BTC/USDT 1h: 24 rows" in result.stdout
    assert "cache: miss" in result.stdout


def test_sources_lists_the_built_in_sources(tmp_path: Path) -> None:
    listed = json.loads(quantdesk("data", "sources", "--json", data_dir=tmp_path).stdout)
    names = {item["name"] for item in listed}
    assert {"sample", "csv"} <= names
    text = quantdesk("data", "sources", data_dir=tmp_path).stdout
    assert "sample" in text


def test_the_installed_script_runs_as_its_own_process(tmp_path: Path) -> None:
    version = run_quantdesk_process("--version", data_dir=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, f"quantdesk {__version__}")
    refused = run_quantdesk_process(*FETCH, "--start", "x", data_dir=tmp_path)
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert refused.stderr.startswith("quantdesk: error: ")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["data", "fetch", "sample:BTC/USDT", "--bogus"], "No such option"),
        ([*FETCH, "--start", "2024-01-01", "--end", "2023-01-01"], "not before end"),
        (
            [*FETCH[:-1], "15M", "--start", "2024-01-01", "--end", "2024-02-01"],
            "did you mean '15m'",
        ),
        (
            ["data", "fetch", "nosuch:X", "--start", "2024-01-01", "--end", "2024-02-01"],
            "unknown data source",
        ),
        (
            ["data", "fetch", "sample:BTC/USDX", "--start", "2024-01-01", "--end", "2024-02-01"],
            "did you mean",
        ),
        ([*FETCH, "--start", "someday", "--end", "2024-02-01"], "ISO format"),
        (
            ["data", "fetch", "sample:BTC/USDT", "--start", "2010-01-01", "--end", "2010-02-01"],
            "2015",
        ),
        (["dta"], "No such command"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(
    tmp_path: Path, words: list[str], message: str
) -> None:
    result = quantdesk(*words, data_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("quantdesk: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_errors_are_json_with_json(tmp_path: Path) -> None:
    result = quantdesk(*FETCH, "--start", "x", "--end", "y", "--json", data_dir=tmp_path)
    assert result.returncode == 2
    assert "ISO" in json.loads(result.stderr)["error"]


def test_a_bad_setting_is_bad_input(tmp_path: Path) -> None:
    result = run_quantdesk(
        "config", data_dir=tmp_path, extra_environment={"QUANTDESK_CACHEDIR": "/x"}
    )
    assert result.returncode == 2
    assert "did you mean 'QUANTDESK_CACHE_DIR'" in result.stderr


def test_config_shows_the_settings_in_effect(tmp_path: Path) -> None:
    shown = json.loads(quantdesk("config", "--json", data_dir=tmp_path).stdout)
    assert shown["data_dir"] == str(tmp_path)
    assert shown["resolved_cache_dir"] == str(tmp_path / "cache")


@pytest.fixture
def local_database(postgres_server: Any) -> Iterator[dict[str, str]]:
    """The suite's server as ``quantdesk demo``'s external database; its user is removed after."""
    url = postgres_server.admin_url.set(drivername="postgresql")
    yield {"QUANTDESK_ADMIN_DATABASE_URL": url.render_as_string(hide_password=False)}
    if local_user_name() in {user.name for user in list_users(postgres_server.admin_url)}:
        remove_user(postgres_server.admin_url, local_user_name(), purge=True)


def test_demo_starts_the_database_and_tours_the_sample_data(
    tmp_path: Path, local_database: dict[str, str]
) -> None:
    result = run_quantdesk("demo", "--json", data_dir=tmp_path, extra_environment=local_database)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    database = report["database"]
    assert database["external"] is True
    assert database["user"] == local_user_name()
    assert database["user_created"] is True
    credentials = tmp_path / "database-url"
    assert credentials.stat().st_mode & 0o777 == 0o600
    with psycopg.connect(credentials.read_text().strip()) as session:
        assert session.execute("SELECT current_user").fetchone() == (local_user_name(),)
    first, second = report["data"]["loads"]
    assert (first["cache_hit"], second["cache_hit"]) == (False, True)
    assert first["rows"] == second["rows"] == 182 * 24
    assert report["resampled"]["rows"] == 182
    assert report["gaps"]["count"] > 0
    assert 0 <= report["indicators"]["rsi_14"] <= 100
    assert report["indicators"]["bollinger_lower"] < report["indicators"]["bollinger_upper"]
    assert report["candlestick_patterns"]
    assert report["chart_patterns"]["swing_highs"] > 0
    backtests = report["backtests"]
    assert set(backtests) == {
        "sma_cross",
        "rsi_reversion",
        "bollinger_breakout",
        "breakout_scalping",
    }
    assert all(stats["n_trades"] > 0 for stats in backtests.values())
    assert set(report["saved_runs"]) == set(backtests)
    listed = run_quantdesk(
        "runs", "list", "--json", data_dir=tmp_path, extra_environment=local_database
    )
    assert listed.returncode == 0, listed.stderr
    listed_ids = {run["id"] for run in json.loads(listed.stdout)}
    assert set(report["saved_runs"].values()) <= listed_ids
    text = run_quantdesk("demo", data_dir=tmp_path, extra_environment=local_database)
    assert text.returncode == 0, text.stderr
    assert f"database user: {local_user_name()}\n" in text.stdout
    assert "second load: cache hit" in text.stdout
    assert "rsi_14" in text.stdout
    again = run_quantdesk(
        "runs", "list", "--json", data_dir=tmp_path, extra_environment=local_database
    )
    names = sorted(run["name"] for run in json.loads(again.stdout))
    assert names == sorted(f"quantdesk demo: {name}" for name in backtests)


def test_info_logging_reports_each_fetched_range(tmp_path: Path) -> None:
    words = [*FETCH, "--start", "2024-01-01", "--end", "2024-01-03"]
    result = run_quantdesk(
        *words, data_dir=tmp_path, extra_environment={"QUANTDESK_LOG_LEVEL": "INFO"}
    )
    assert result.returncode == 0
    assert "quantdesk: INFO: fetching BTC/USDT 1h [2024-01-01" in result.stderr


def test_sample_loads_its_whole_span_without_a_range(tmp_path: Path) -> None:
    result = quantdesk(
        "data", "fetch", "sample:SPY", "--timeframe", "1w", "--json", data_dir=tmp_path
    )
    summary = json.loads(result.stdout)
    assert summary["requested_start"] == "2015-01-01T00:00:00+00:00"
    assert summary["requested_end"] == "2026-01-01T00:00:00+00:00"
    assert 560 < summary["rows"] < 580


def test_monthly_and_minute_bars_are_cached_and_removed_apart(tmp_path: Path) -> None:
    for timeframe, end in (("1M", "2024-07-01"), ("1m", "2024-01-01 02:00")):
        fetched = quantdesk(
            *("data", "fetch", "sample:BTC/USDT", "--timeframe", timeframe, "--json"),
            *("--start", "2024-01-01", "--end", end),
            data_dir=tmp_path,
        )
        assert fetched.returncode == 0, fetched.stderr
    listed = json.loads(quantdesk("data", "ls", "--json", data_dir=tmp_path).stdout)
    assert {item["timeframe"]: item["rows"] for item in listed} == {"1m": 120, "1M": 6}
    removed = quantdesk(
        "data", "rm", "sample:BTC/USDT", "--timeframe", "1M", "--json", data_dir=tmp_path
    )
    assert json.loads(removed.stdout)["removed_timeframes"] == ["1M"]
    left = json.loads(quantdesk("data", "ls", "--json", data_dir=tmp_path).stdout)
    assert [item["timeframe"] for item in left] == ["1m"]


def test_cache_can_be_listed_and_emptied(tmp_path: Path) -> None:
    assert quantdesk("data", "ls", data_dir=tmp_path).stdout.strip() == "the cache is empty"
    for timeframe in ("1h", "4h"):
        window = ["--start", "2024-01-01", "--end", "2024-01-08"]
        quantdesk(
            "data", "fetch", "sample:AAPL", "--timeframe", timeframe, *window, data_dir=tmp_path
        )
    listed = json.loads(quantdesk("data", "ls", "--json", data_dir=tmp_path).stdout)
    assert sorted(item["timeframe"] for item in listed) == ["1h", "4h"]
    hourly = next(item for item in listed if item["timeframe"] == "1h")
    assert hourly["symbol"] == "AAPL"
    assert hourly["rows"] == 4 * 7
    assert hourly["size_bytes"] > 0
    removed = json.loads(
        quantdesk(
            "data", "rm", "sample:AAPL", "--timeframe", "4h", "--json", data_dir=tmp_path
        ).stdout
    )
    assert removed["removed_timeframes"] == ["4h"]
    left = json.loads(quantdesk("data", "ls", "--json", data_dir=tmp_path).stdout)
    assert [item["timeframe"] for item in left] == ["1h"]
    again = quantdesk(
        "data",
        "fetch",
        "sample:AAPL",
        "-t",
        "4h",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-08",
        "--json",
        data_dir=tmp_path,
    )
    assert json.loads(again.stdout)["cache_hit"] is False
    missing = quantdesk("data", "rm", "sample:MSFT", data_dir=tmp_path)
    assert missing.returncode == 2
    assert "nothing cached for 'sample:MSFT'" in missing.stderr
