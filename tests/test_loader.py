"""Loading through the cache: hits never call the source, misses fetch only what is missing."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from quantdesk.api.data import load
from quantdesk.config import Settings
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data import source as source_module
from quantdesk.data.loader import load_bars
from quantdesk.data.source import DataSource, SourceAddress, available_sources, get_source
from quantdesk.data.sources.sample import SampleSource
from quantdesk.errors import FatalSourceError, InvalidInputError, UnknownNameError


class CountingSampleSource(SampleSource):
    """The real sample source, recording every range it is asked for."""

    name = "counting"
    requests: ClassVar[list[TimeRange]] = []

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        type(self).requests.append(time_range)
        return super()._fetch(symbol, timeframe, time_range)


class RecentBarsSource(DataSource):
    """Hourly bars for any time, up to and including the bar now forming."""

    name = "recent"
    requests: ClassVar[list[TimeRange]] = []

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        type(self).requests.append(time_range)
        starts = pd.date_range(
            time_range.start.ceil("h"), time_range.end, freq="h", inclusive="left"
        )
        price = 100.0 + np.arange(len(starts)) % 7
        return pd.DataFrame(
            {"open": price, "high": price + 1, "low": price - 1, "close": price, "volume": 1.0},
            index=pd.DatetimeIndex(starts, name="time"),
        )


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[CountingSampleSource]:
    monkeypatch.setitem(source_module._registered_sources, "counting", CountingSampleSource)
    monkeypatch.setattr(CountingSampleSource, "requests", [])
    return CountingSampleSource


def window(start: str, end: str) -> TimeRange:
    return TimeRange.of(start, end)


def test_second_load_is_a_hit_with_the_same_rows(
    counting: type[CountingSampleSource], settings_in: Settings
) -> None:
    arguments = {
        "timeframe": "1h",
        "start": "2024-01-01",
        "end": "2024-03-01",
        "settings": settings_in,
    }
    first = load_bars("counting:BTC/USDT", **arguments)
    second = load_bars("counting:BTC/USDT", **arguments)
    assert not first.cache_hit
    assert second.cache_hit
    assert counting.requests == [window("2024-01-01", "2024-03-01")]
    assert first.rows == second.rows == 60 * 24
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert second.cache_path is not None
    assert second.cache_path.is_relative_to(settings_in.resolved_cache_dir)


def test_widening_fetches_only_the_new_parts(
    counting: type[CountingSampleSource], settings_in: Settings
) -> None:
    load_bars(
        "counting:ETH/USDT",
        timeframe="4h",
        start="2024-02-01",
        end="2024-03-01",
        settings=settings_in,
    )
    wide = load_bars(
        "counting:ETH/USDT",
        timeframe="4h",
        start="2024-01-01",
        end="2024-04-01",
        settings=settings_in,
    )
    assert counting.requests == [
        window("2024-02-01", "2024-03-01"),
        window("2024-01-01", "2024-02-01"),
        window("2024-03-01", "2024-04-01"),
    ]
    assert wide.fetched_ranges == (
        window("2024-01-01", "2024-02-01"),
        window("2024-03-01", "2024-04-01"),
    )
    direct = SampleSource(settings_in).fetch("ETH/USDT", "4h", window("2024-01-01", "2024-04-01"))
    pd.testing.assert_frame_equal(wide.frame, direct)
    inner = load_bars(
        "counting:ETH/USDT",
        timeframe="4h",
        start="2024-01-15",
        end="2024-03-15",
        settings=settings_in,
    )
    assert inner.cache_hit
    assert len(counting.requests) == 3


def test_an_empty_range_is_remembered(
    counting: type[CountingSampleSource], settings_in: Settings
) -> None:
    weekend = {
        "timeframe": "1h",
        "start": "2024-03-09",
        "end": "2024-03-11",
        "settings": settings_in,
    }
    assert load_bars("counting:AAPL", **weekend).rows == 0
    again = load_bars("counting:AAPL", **weekend)
    assert again.cache_hit
    assert again.rows == 0
    assert len(counting.requests) == 1


def test_without_cache_the_source_is_always_asked(
    counting: type[CountingSampleSource], settings_in: Settings
) -> None:
    for _ in range(2):
        result = load_bars(
            "counting:SPY",
            timeframe="1d",
            start="2024-01-01",
            end="2024-02-01",
            settings=settings_in,
            use_cache=False,
        )
        assert result.cache_path is None
        assert not result.cache_hit
    assert len(counting.requests) == 2


def test_forming_bars_are_fetched_but_never_stored(
    monkeypatch: pytest.MonkeyPatch, settings_in: Settings
) -> None:
    monkeypatch.setitem(source_module._registered_sources, "recent", RecentBarsSource)
    monkeypatch.setattr(RecentBarsSource, "requests", [])
    now = pd.Timestamp("2024-05-01 10:59:59.5", tz="UTC")  # both loads in one hour
    start, end = (now - pd.Timedelta(hours=6)).floor("h"), now.floor("h") + pd.Timedelta(hours=1)
    arguments = {
        "timeframe": "1h",
        "start": start,
        "end": end,
        "settings": settings_in,
        "clock": lambda: now,
    }
    first = load_bars("recent:X", **arguments)
    second = load_bars("recent:X", **arguments)
    assert first.frame.index[-1] == now.floor("h")
    assert second.fetched_ranges == (TimeRange(now.floor("h"), end),)
    assert not second.cache_hit
    assert RecentBarsSource.requests[-1] == TimeRange(now.floor("h"), end)
    pd.testing.assert_frame_equal(first.frame, second.frame)


def test_load_returns_the_frame(settings_in: Settings) -> None:
    frame = load(
        "sample:SOL/USDT",
        timeframe="1d",
        start="2024-01-01",
        end="2024-01-11",
        settings=settings_in,
    )
    assert len(frame) == 10


def test_default_timeframe_comes_from_settings(settings_in: Settings) -> None:
    daily = settings_in.model_copy(update={"default_timeframe": "1d"})
    result = load_bars("sample:BTC/USDT", start="2024-01-01", end="2024-01-08", settings=daily)
    assert result.timeframe == Timeframe.parse("1d")
    assert result.rows == 7


@pytest.mark.parametrize(
    ("address", "error", "message"),
    [
        ("sample:BTC/USDX", FatalSourceError, "did you mean 'BTC/USDT'"),
        ("sampel:BTC/USDT", UnknownNameError, "did you mean 'sample'"),
        ("BTC/USDT", InvalidInputError, "SOURCE:SYMBOL"),
    ],
)
def test_bad_addresses_name_the_fix(
    settings_in: Settings, address: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        load_bars(
            address, timeframe="1h", start="2024-01-01", end="2024-01-02", settings=settings_in
        )


def test_sources_are_discovered_through_entry_points() -> None:
    sources = available_sources()
    assert {"sample", "csv"} <= set(sources)
    assert sources["sample"] is SampleSource


def test_register_source_refuses_what_is_not_a_source() -> None:
    with pytest.raises(InvalidInputError, match="not a DataSource"):
        source_module.register_source(dict)  # type: ignore[arg-type]


def test_addresses_split_at_the_first_colon(settings_in: Settings) -> None:
    address = SourceAddress.parse("ccxt:binance:BTC/USDT")
    assert (address.source, address.symbol) == ("ccxt", "binance:BTC/USDT")
    assert str(address) == "ccxt:binance:BTC/USDT"
    assert isinstance(get_source("sample", settings_in), SampleSource)
