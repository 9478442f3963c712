"""Adjusted history in the cache: each series records its basis, and restated history never mixes.

Alpaca (``adjustment=all``) and Yahoo (split-adjusted prices) restate every
earlier bar at a split or dividend. The fakes restate their history between
two loads as the real services do; the expected bars are computed here from
the bars the fakes hold, not by the code under test.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import responses

from quantdesk.config import Settings
from quantdesk.core.time_range import TimeRange
from quantdesk.data import source as source_module
from quantdesk.data.cache import CacheKey, ParquetStore
from quantdesk.data.cache.coverage import COVERAGE_FILE_NAME
from quantdesk.data.cache.inventory import list_cached_series
from quantdesk.data.loader import load_bars
from quantdesk.data.source import get_source
from quantdesk.data.sources.alpaca_source import KEY_VARIABLES
from quantdesk.errors import CacheError, FatalSourceError, InvalidInputError
from tests.fake_alpaca import FakeAlpaca, bar_series
from tests.fake_yahoo import FakeYahoo, serving_fake_yahoo, session_starts, split_adjusted
from tests.test_source_alpaca import KEY_ID, SECRET, RecordingAlpacaSource, expected_frame
from tests.test_source_yfinance import daily_expected

AAPL_HOURLY = CacheKey.of("alpaca", "AAPL", "1h")
HOURS = bar_series("2024-01-02T00:00Z", 24 * 6, "1h")
EX_DATE = "2024-01-05T00:00Z"
DIVIDEND_FACTOR = 0.98


@pytest.fixture
def alpaca(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAlpaca]:
    monkeypatch.setenv(KEY_VARIABLES[0], KEY_ID)
    monkeypatch.setenv(KEY_VARIABLES[1], SECRET)
    monkeypatch.setitem(source_module._registered_sources, "alpaca", RecordingAlpacaSource)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeAlpaca(mock, key_id=KEY_ID, secret=SECRET)
        fake.add_bars("AAPL", "1Hour", HOURS)
        yield fake


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    with serving_fake_yahoo(monkeypatch) as fake:
        yield fake


def load_aapl(settings: Settings, start: str, end: str) -> Any:
    return load_bars("alpaca:AAPL", timeframe="1h", start=start, end=end, settings=settings)


def dividend_adjusted(bars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alpaca's ``adjustment=all`` bars after a dividend at ``EX_DATE``, worked out by hand."""
    ex_date = pd.Timestamp(EX_DATE)
    adjusted = []
    for item in bars:
        if pd.Timestamp(item["t"]) < ex_date:
            prices = {name: item[name] * DIVIDEND_FACTOR for name in ("o", "h", "l", "c")}
            item = {**item, **prices, "v": item["v"] / DIVIDEND_FACTOR}
        adjusted.append(item)
    return adjusted


def hours_in(bars: list[dict[str, Any]], start: str, end: str) -> list[dict[str, Any]]:
    first, stop = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    return [item for item in bars if first <= pd.Timestamp(item["t"]) < stop]


def test_a_dividend_between_loads_gives_the_restated_series_throughout(
    alpaca: FakeAlpaca, settings_in: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    first = load_aapl(settings_in, "2024-01-02", "2024-01-04")
    pd.testing.assert_frame_equal(
        first.frame, expected_frame(hours_in(HOURS, "2024-01-02", "2024-01-04"))
    )
    alpaca.dividend("AAPL", EX_DATE, DIVIDEND_FACTOR)

    with caplog.at_level(logging.WARNING, logger="quantdesk.data.loader"):
        widened = load_aapl(settings_in, "2024-01-02", "2024-01-06")

    restated = expected_frame(hours_in(dividend_adjusted(HOURS), "2024-01-02", "2024-01-06"))
    pd.testing.assert_frame_equal(widened.frame, restated)
    assert "restated the history of alpaca:AAPL 1h" in caplog.text
    # One request extended the series and found the last cached bar changed; one fetched it whole.
    requests = alpaca.bars_requests()[1:]
    assert len(requests) == 2
    assert pd.Timestamp(requests[1].parameters["start"]) == pd.Timestamp("2024-01-02", tz="UTC")
    assert widened.fetched_ranges == (TimeRange.of("2024-01-02", "2024-01-06"),)
    again = load_aapl(settings_in, "2024-01-02", "2024-01-06")
    assert again.cache_hit
    pd.testing.assert_frame_equal(again.frame, restated)
    assert ParquetStore.from_settings(settings_in).adjustment(AAPL_HOURLY) == "all"
    (listed,) = list_cached_series(settings_in)
    assert listed.to_json()["adjustment"] == "all"


def test_bars_cached_on_another_basis_are_fetched_again_not_mixed(
    alpaca: FakeAlpaca, settings_in: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    alpaca.dividend("AAPL", EX_DATE, DIVIDEND_FACTOR)
    store = ParquetStore.from_settings(settings_in)
    raw = expected_frame(hours_in(HOURS, "2024-01-02", "2024-01-04"))
    store.save(AAPL_HOURLY, raw, TimeRange.of("2024-01-02", "2024-01-04"), adjustment="raw")

    with caplog.at_level(logging.WARNING, logger="quantdesk.data.loader"):
        inside = load_aapl(settings_in, "2024-01-02", "2024-01-03")

    adjusted = dividend_adjusted(HOURS)
    pd.testing.assert_frame_equal(
        inside.frame, expected_frame(hours_in(adjusted, "2024-01-02", "2024-01-03"))
    )
    assert "adjusted on basis 'raw' but source 'alpaca' sends 'all'" in caplog.text
    assert store.adjustment(AAPL_HOURLY) == "all"
    pd.testing.assert_frame_equal(
        store.load(AAPL_HOURLY, TimeRange.of("2024-01-01", "2024-01-10")),
        expected_frame(hours_in(adjusted, "2024-01-02", "2024-01-04")),
    )


def test_the_store_refuses_to_mix_bases_naming_data_rm(settings_in: Settings) -> None:
    store = ParquetStore.from_settings(settings_in)
    frame = expected_frame(hours_in(HOURS, "2024-01-02", "2024-01-03"))
    store.save(AAPL_HOURLY, frame, TimeRange.of("2024-01-02", "2024-01-03"), adjustment="raw")
    later = expected_frame(hours_in(HOURS, "2024-01-03", "2024-01-04"))
    with pytest.raises(InvalidInputError, match=r"quantdesk data rm alpaca:AAPL --timeframe 1h"):
        store.save(AAPL_HOURLY, later, TimeRange.of("2024-01-03", "2024-01-04"), adjustment="all")
    with pytest.raises(InvalidInputError, match=r"unknown adjustment basis 'adjusted'"):
        store.save(
            AAPL_HOURLY, later, TimeRange.of("2024-01-03", "2024-01-04"), adjustment="adjusted"
        )
    assert store.coverage(AAPL_HOURLY) == [TimeRange.of("2024-01-02", "2024-01-03")]


def test_a_series_cached_without_a_basis_loads_and_is_checked_on_extension(
    alpaca: FakeAlpaca, settings_in: Settings
) -> None:
    load_aapl(settings_in, "2024-01-02", "2024-01-04")
    store = ParquetStore.from_settings(settings_in)
    coverage_path = store.path(AAPL_HOURLY) / COVERAGE_FILE_NAME
    document = json.loads(coverage_path.read_text())
    del document["adjustment"]  # as written before bases were recorded
    coverage_path.write_text(json.dumps(document))
    assert store.adjustment(AAPL_HOURLY) is None

    hit = load_aapl(settings_in, "2024-01-02", "2024-01-04")
    assert hit.cache_hit
    alpaca.dividend("AAPL", EX_DATE, DIVIDEND_FACTOR)
    widened = load_aapl(settings_in, "2024-01-02", "2024-01-06")

    pd.testing.assert_frame_equal(
        widened.frame,
        expected_frame(hours_in(dividend_adjusted(HOURS), "2024-01-02", "2024-01-06")),
    )
    assert store.adjustment(AAPL_HOURLY) == "all"


def test_raw_and_adjusted_requests_are_cached_apart(
    alpaca: FakeAlpaca, settings_in: Settings
) -> None:
    alpaca.dividend("AAPL", EX_DATE, DIVIDEND_FACTOR)
    raw_source = RecordingAlpacaSource(settings_in, adjustment="raw")
    adjusted = load_aapl(settings_in, "2024-01-02", "2024-01-06")
    store = ParquetStore.from_settings(settings_in)
    raw_key = CacheKey.of("alpaca", raw_source.cache_symbol("AAPL"), "1h")
    raw_range = TimeRange.of("2024-01-02", "2024-01-06")
    store.save(raw_key, raw_source.fetch("AAPL", "1h", raw_range), raw_range, adjustment="raw")

    pd.testing.assert_frame_equal(
        adjusted.frame,
        expected_frame(hours_in(dividend_adjusted(HOURS), "2024-01-02", "2024-01-06")),
    )
    pd.testing.assert_frame_equal(
        store.load(raw_key, raw_range), expected_frame(hours_in(HOURS, "2024-01-02", "2024-01-06"))
    )
    assert (store.adjustment(AAPL_HOURLY), store.adjustment(raw_key)) == ("all", "raw")


def yahoo_split_expected(start: str, end: str, split_day: str, ratio: float) -> pd.DataFrame:
    """The fake's daily AAPL bars once a split at ``split_day``'s open restated the earlier ones."""
    frame = daily_expected("AAPL", start, end)
    before = frame.index < pd.Timestamp(split_day, tz="UTC")
    rows = [
        split_adjusted(tuple(row), [ratio] if earlier else [])
        for row, earlier in zip(frame.itertuples(index=False), before, strict=True)
    ]
    return pd.DataFrame(rows, columns=frame.columns, index=frame.index, dtype="float64")


def test_a_yahoo_split_between_loads_gives_the_split_adjusted_series_throughout(
    yahoo: FakeYahoo, settings_in: Settings
) -> None:
    first = load_bars(
        "yfinance:AAPL", timeframe="1d", start="2024-01-01", end="2024-02-01", settings=settings_in
    )
    pd.testing.assert_frame_equal(first.frame, daily_expected("AAPL", "2024-01-01", "2024-02-01"))
    split_open = session_starts(
        "AAPL", pd.Timestamp("2024-02-05", tz="UTC"), pd.Timestamp("2024-02-06", tz="UTC"), 1440
    )[0]
    yahoo.split("AAPL", split_open, 4.0)

    widened = load_bars(
        "yfinance:AAPL", timeframe="1d", start="2023-12-01", end="2024-03-01", settings=settings_in
    )

    expected = yahoo_split_expected("2023-12-01", "2024-03-01", "2024-02-05", 4.0)
    pd.testing.assert_frame_equal(widened.frame, expected)
    last_before = pd.Timestamp("2024-01-31", tz="UTC")
    assert float(expected["close"][last_before]) * 4.0 == pytest.approx(
        float(first.frame["close"][last_before])
    )
    assert len(yahoo.history_requests) == 3  # first load, the checked extension, the whole series
    again = load_bars(
        "yfinance:AAPL", timeframe="1d", start="2023-12-01", end="2024-03-01", settings=settings_in
    )
    assert again.cache_hit
    pd.testing.assert_frame_equal(again.frame, expected)


def test_a_restated_series_too_old_to_fetch_again_is_refused_naming_data_rm(
    yahoo: FakeYahoo, settings_in: Settings
) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("h")
    key = CacheKey.of("yfinance", "BTC-USD", "5m")
    store = ParquetStore.from_settings(settings_in)
    recent = TimeRange(now - pd.Timedelta(days=3), now - pd.Timedelta(days=2))
    bars = get_source("yfinance", settings_in).fetch("BTC-USD", "5m", recent)
    store.save(key, bars, recent, adjustment="split")
    # A day cached 70 days ago, when Yahoo still kept 5m bars that old.
    shift = pd.Timedelta(days=67)
    old = TimeRange(recent.start - shift, recent.end - shift)
    store.save(key, bars.set_axis(pd.DatetimeIndex(bars.index) - shift), old, adjustment="split")
    yahoo.split("BTC-USD", now - pd.Timedelta(days=1), 2.0)

    with pytest.raises(FatalSourceError) as raised:
        load_bars(
            "yfinance:BTC-USD",
            timeframe="5m",
            start=now - pd.Timedelta(days=2),
            end=now - pd.Timedelta(days=1, hours=12),
            settings=settings_in,
        )

    message = str(raised.value)
    assert "\n" not in message
    assert "no longer match what the source sends" in message
    assert "'quantdesk data rm yfinance:BTC-USD --timeframe 5m'" in message
    pd.testing.assert_frame_equal(store.load(key, recent), bars)  # nothing cached was lost
    assert store.coverage(key) == [old, recent]


def test_a_cached_bar_too_old_to_check_is_refused_naming_data_rm(
    yahoo: FakeYahoo, settings_in: Settings
) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("h")
    key = CacheKey.of("yfinance", "BTC-USD", "5m")
    store = ParquetStore.from_settings(settings_in)
    day = TimeRange(now - pd.Timedelta(days=3), now - pd.Timedelta(days=2))
    bars = get_source("yfinance", settings_in).fetch("BTC-USD", "5m", day)
    shift = pd.Timedelta(days=67)
    old = TimeRange(day.start - shift, day.end - shift)
    store.save(key, bars.set_axis(pd.DatetimeIndex(bars.index) - shift), old)  # no basis recorded

    with pytest.raises(FatalSourceError) as raised:
        load_bars(
            "yfinance:BTC-USD", timeframe="5m", start=day.start, end=day.end, settings=settings_in
        )

    message = str(raised.value)
    assert "\n" not in message
    assert "cannot be fetched again to check it" in message
    assert "'quantdesk data rm yfinance:BTC-USD --timeframe 5m'" in message
    assert store.coverage(key) == [old]
    assert store.adjustment(key) is None


def test_a_whole_fetch_that_fails_to_write_leaves_no_mixed_series(
    alpaca: FakeAlpaca, settings_in: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_aapl(settings_in, "2024-01-02", "2024-01-04")
    alpaca.dividend("AAPL", EX_DATE, DIVIDEND_FACTOR)

    def full_disk(self: ParquetStore, path: Path, frame: pd.DataFrame) -> None:
        raise CacheError(f"cannot write cache file {path} (No space left on device)")

    with monkeypatch.context() as patched:
        patched.setattr(ParquetStore, "_write_chunk", full_disk)
        with pytest.raises(CacheError, match="No space left"):
            load_aapl(settings_in, "2024-01-02", "2024-01-06")

    store = ParquetStore.from_settings(settings_in)
    assert (
        store.coverage(AAPL_HOURLY) == []
    )  # withdrawn before the bars changed, so nothing is trusted
    recovered = load_aapl(settings_in, "2024-01-02", "2024-01-06")
    pd.testing.assert_frame_equal(
        recovered.frame,
        expected_frame(hours_in(dividend_adjusted(HOURS), "2024-01-02", "2024-01-06")),
    )


def test_the_basis_is_written_with_the_coverage_and_a_damaged_one_names_the_fix(
    settings_in: Settings,
) -> None:
    store = ParquetStore.from_settings(settings_in)
    frame = expected_frame(hours_in(HOURS, "2024-01-02", "2024-01-03"))
    store.save(AAPL_HOURLY, frame, TimeRange.of("2024-01-02", "2024-01-03"), adjustment="all")
    coverage_path = store.path(AAPL_HOURLY) / COVERAGE_FILE_NAME
    document = json.loads(coverage_path.read_text())
    assert (document["format"], document["adjustment"]) == (1, "all")
    store.save(AAPL_HOURLY, frame.iloc[:0], TimeRange.of("2024-01-03", "2024-01-04"))
    assert store.adjustment(AAPL_HOURLY) == "all"  # a save naming no basis keeps the recorded one

    coverage_path.write_text(json.dumps({**document, "adjustment": 7}))
    with pytest.raises(
        CacheError, match=r"damaged \('adjustment' is not a name\).*quantdesk data rm"
    ):
        store.adjustment(AAPL_HOURLY)


LATER_HOURS = bar_series("2024-01-20T00:00Z", 24, "1h", first_price=150.0)


def test_a_cached_bar_far_from_the_new_range_is_checked_with_a_request_of_its_own(
    alpaca: FakeAlpaca, settings_in: Settings
) -> None:
    alpaca.add_bars("AAPL", "1Hour", LATER_HOURS)
    load_aapl(settings_in, "2024-01-02", "2024-01-03")
    later = load_aapl(settings_in, "2024-01-20", "2024-01-21")

    pd.testing.assert_frame_equal(later.frame, expected_frame(LATER_HOURS))
    probe, piece = alpaca.bars_requests()[1:]
    assert pd.Timestamp(probe.parameters["start"]) == pd.Timestamp("2024-01-02T23:00Z")
    assert pd.Timestamp(piece.parameters["start"]) == pd.Timestamp("2024-01-20", tz="UTC")


def test_a_far_cached_bar_found_restated_fetches_the_whole_series_at_once(
    alpaca: FakeAlpaca, settings_in: Settings
) -> None:
    alpaca.add_bars("AAPL", "1Hour", LATER_HOURS)
    load_aapl(settings_in, "2024-01-02", "2024-01-03")
    alpaca.dividend("AAPL", EX_DATE, DIVIDEND_FACTOR)
    later = load_aapl(settings_in, "2024-01-20", "2024-01-21")

    pd.testing.assert_frame_equal(later.frame, expected_frame(LATER_HOURS))
    probe, whole = alpaca.bars_requests()[1:]  # the piece itself is not fetched on its own
    assert pd.Timestamp(probe.parameters["start"]) == pd.Timestamp("2024-01-02T23:00Z")
    assert pd.Timestamp(whole.parameters["start"]) == pd.Timestamp("2024-01-02", tz="UTC")
    store = ParquetStore.from_settings(settings_in)
    pd.testing.assert_frame_equal(
        store.load(AAPL_HOURLY, TimeRange.of("2024-01-02", "2024-01-03")),
        expected_frame(hours_in(dividend_adjusted(HOURS), "2024-01-02", "2024-01-03")),
    )
