"""What the cache holds and removing it; the loader never stores a forming bar or a duplicate."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from quantdesk.api.cache import list_cached_series, remove_cached_series
from quantdesk.config import Settings
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data import source as source_module
from quantdesk.data.cache import CacheKey, ParquetStore, inventory
from quantdesk.data.cache.inventory import CachedSeries
from quantdesk.data.loader import LoadResult, load_bars
from quantdesk.data.source import (
    INTRADAY_REVISION_MARGIN,
    DataSource,
    register_source,
    settled_exchange_bars_before,
)
from quantdesk.errors import CacheError, DataRepairWarning, InvalidInputError

PAGE_BARS = 10
PAGE_STEP = 7  # consecutive pages share PAGE_BARS - PAGE_STEP candles, as paging by `since` can


def expected_bars(starts: pd.DatetimeIndex) -> pd.DataFrame:
    """The bars a test source serves: each bar's values depend on its start time only."""
    nanoseconds = pd.DatetimeIndex(starts).as_unit("ns").asi8
    price = 100.0 + (nanoseconds // 3_600_000_000_000 % 97).astype(float)
    return pd.DataFrame(
        {"open": price, "high": price + 1, "low": price - 1, "close": price + 0.5, "volume": 1.0},
        index=pd.DatetimeIndex(pd.to_datetime(nanoseconds, unit="ns", utc=True), name="time"),
    )


class RecordingSource(DataSource):
    """Hourly bars for any symbol, up to the bar forming now; records every request."""

    name = "recording"
    requests: ClassVar[list[TimeRange]] = []

    def cache_symbol(self, symbol: str) -> str:
        return symbol.upper()

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        type(self).requests.append(time_range)
        last = min(time_range.end, pd.Timestamp.now(tz="UTC"))
        starts = pd.date_range(time_range.start.ceil("h"), last, freq="h", inclusive="left")
        return expected_bars(starts)


class OverlappingPagesSource(RecordingSource):
    """Serves a request as pages of hourly bars overlapping each other and the range's edges."""

    name = "overlapping"
    requests: ClassVar[list[TimeRange]] = []

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        type(self).requests.append(time_range)
        pages = []
        page_start = time_range.start - pd.Timedelta(hours=2)
        while page_start < time_range.end:
            pages.append(expected_bars(pd.date_range(page_start, periods=PAGE_BARS, freq="h")))
            page_start += pd.Timedelta(hours=PAGE_STEP)
        return pd.concat(pages)


class HalfPastSource(RecordingSource):
    """Hourly stock-like bars starting at :30, off the epoch grid, with the exchange cut-off."""

    name = "half_past"
    requests: ClassVar[list[TimeRange]] = []

    def settled_before(self, timeframe: Timeframe, now: pd.Timestamp) -> pd.Timestamp:
        return settled_exchange_bars_before(timeframe, now)

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        type(self).requests.append(time_range)
        now = pd.Timestamp.now(tz="UTC")
        first = (time_range.start - pd.Timedelta(minutes=30)).ceil("h") + pd.Timedelta(minutes=30)
        starts = pd.date_range(first, min(time_range.end, now), freq="h", inclusive="left")
        return expected_bars(starts)


@pytest.fixture
def test_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the test sources for this test only."""
    monkeypatch.setattr(source_module, "_registered_sources", {})
    for source_class in (RecordingSource, OverlappingPagesSource, HalfPastSource):
        monkeypatch.setattr(source_class, "requests", [])
        register_source(source_class)


def files_of(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.is_file())


def fill(settings: Settings) -> None:
    """Two symbols, three series; the hourly BTC one spans a year boundary (two chunk files)."""
    load_bars(
        "sample:BTC/USDT", timeframe="1h", start="2024-12-01", end="2025-02-01", settings=settings
    )
    load_bars(
        "sample:AAPL", timeframe="1h", start="2024-03-01", end="2024-03-15", settings=settings
    )
    load_bars(
        "sample:AAPL", timeframe="4h", start="2024-03-01", end="2024-04-01", settings=settings
    )


# Listing --------------------------------------------------------------------------------


def test_an_empty_cache_lists_nothing(settings_in: Settings) -> None:
    assert list_cached_series(settings_in) == []


def test_listing_describes_every_series_as_it_is_on_disk(settings_in: Settings) -> None:
    before = pd.Timestamp.now(tz="UTC")
    loaded = load_bars(
        "sample:BTC/USDT",
        timeframe="1h",
        start="2024-12-01",
        end="2025-02-01",
        settings=settings_in,
    )
    weekly = load_bars(
        "sample:AAPL", timeframe="1h", start="2024-03-01", end="2024-03-15", settings=settings_in
    )

    listed = list_cached_series(settings_in)

    assert [series.address for series in listed] == ["sample:AAPL", "sample:BTC/USDT"]
    for series, result in zip(listed, (weekly, loaded), strict=True):
        files = files_of(series.path)
        assert series.path == result.cache_path
        assert series.rows == result.rows
        assert (series.first, series.last) == (result.frame.index[0], result.frame.index[-1])
        assert series.coverage == (result.time_range,)
        assert series.size_bytes == sum(path.stat().st_size for path in files)
        assert series.chunk_files == len([path for path in files if path.suffix == ".parquet"])
        assert series.last_written is not None
        assert before <= series.last_written <= pd.Timestamp.now(tz="UTC")
    assert listed[1].chunk_files == 2  # 2024.parquet and 2025.parquet
    assert listed[1].rows == 62 * 24
    assert listed[1].to_json()["first"] == "2024-12-01T00:00:00+00:00"
    assert listed[1].to_json()["coverage"] == [
        ["2024-12-01T00:00:00+00:00", "2025-02-01T00:00:00+00:00"]
    ]


def test_listing_filters_by_source_and_symbol(settings_in: Settings) -> None:
    fill(settings_in)

    by_symbol = list_cached_series(settings_in, symbol="AAPL")
    by_source = list_cached_series(settings_in, source="sample")

    assert [(s.key.symbol, s.key.timeframe.text) for s in by_symbol] == [
        ("AAPL", "1h"),
        ("AAPL", "4h"),
    ]
    assert len(by_source) == 3
    assert list_cached_series(settings_in, source="csv") == []


def test_listing_a_damaged_series_names_the_rm_that_clears_it(settings_in: Settings) -> None:
    fill(settings_in)
    damaged = list_cached_series(settings_in, symbol="BTC/USDT")[0]
    (damaged.path / "2025.parquet").write_bytes(b"not parquet at all")

    with pytest.raises(CacheError, match=r"quantdesk data rm sample:BTC/USDT --timeframe 1h"):
        list_cached_series(settings_in)

    removal = remove_cached_series("sample:BTC/USDT", timeframe="1h", settings=settings_in)
    assert [removed.key for removed in removal.series] == [damaged.key]
    assert len(list_cached_series(settings_in)) == 2


# Removal --------------------------------------------------------------------------------


def test_removing_one_series_frees_its_files_and_leaves_the_others(
    settings_in: Settings,
) -> None:
    fill(settings_in)
    hourly = list_cached_series(settings_in, symbol="AAPL")[0]
    assert hourly.key == CacheKey.of("sample", "AAPL", "1h")

    removal = remove_cached_series("sample:AAPL", timeframe="1h", settings=settings_in)

    assert [removed.key for removed in removal.series] == [hourly.key]
    assert removal.bytes_freed == hourly.size_bytes
    assert removal.series[0].chunk_files == 1
    assert [path.name for path in files_of(hourly.path)] == [".lock"]
    remaining = [(s.key.symbol, s.key.timeframe.text) for s in list_cached_series(settings_in)]
    assert remaining == [("AAPL", "4h"), ("BTC/USDT", "1h")]
    again = load_bars(
        "sample:AAPL", timeframe="1h", start="2024-03-01", end="2024-03-15", settings=settings_in
    )
    assert not again.cache_hit
    assert again.rows == hourly.rows


def test_removing_a_symbol_without_a_timeframe_removes_all_its_timeframes(
    settings_in: Settings,
) -> None:
    fill(settings_in)

    removal = remove_cached_series("sample:AAPL", settings=settings_in)

    assert [removed.key.timeframe.text for removed in removal.series] == ["1h", "4h"]
    assert [series.address for series in list_cached_series(settings_in)] == ["sample:BTC/USDT"]


def test_removal_finds_the_symbol_as_the_source_names_it_in_the_cache(
    settings_in: Settings, test_sources: None
) -> None:
    load_bars(
        "recording:btc/usdt",
        timeframe="1h",
        start="2024-01-01",
        end="2024-01-02",
        settings=settings_in,
    )
    assert [s.key.symbol for s in list_cached_series(settings_in)] == ["BTC/USDT"]

    removal = remove_cached_series("recording:btc/usdt", settings=settings_in)

    assert [removed.key for removed in removal.series] == [
        CacheKey.of("recording", "BTC/USDT", "1h")
    ]


def test_removing_an_unknown_address_names_the_cached_close_matches(
    settings_in: Settings,
) -> None:
    with pytest.raises(InvalidInputError, match=r"nothing cached .*; the cache is empty"):
        remove_cached_series("sample:AAPL", settings=settings_in)
    fill(settings_in)

    with pytest.raises(InvalidInputError, match=r"'sample:aapl'; did you mean 'sample:AAPL'\?$"):
        remove_cached_series("sample:aapl", settings=settings_in)
    with pytest.raises(InvalidInputError, match=r"did you mean 'sample:BTC/USDT'\?$"):
        remove_cached_series("smaple:BTC/USDT", settings=settings_in)
    with pytest.raises(InvalidInputError, match=r"cached are sample:AAPL, sample:BTC/USDT"):
        remove_cached_series("sample:MSFT", settings=settings_in)
    with pytest.raises(InvalidInputError, match=r"at 15m; it is cached at 1h, 4h"):
        remove_cached_series("sample:AAPL", timeframe="15m", settings=settings_in)
    assert len(list_cached_series(settings_in)) == 3


def test_ambiguous_removals_are_refused(settings_in: Settings) -> None:
    fill(settings_in)

    with pytest.raises(InvalidInputError, match="name the series to remove"):
        remove_cached_series(settings=settings_in)
    with pytest.raises(InvalidInputError, match="not both"):
        remove_cached_series("sample:AAPL", every_series=True, settings=settings_in)
    with pytest.raises(InvalidInputError, match="not both"):
        remove_cached_series(timeframe="1h", every_series=True, settings=settings_in)
    assert len(list_cached_series(settings_in)) == 3


def test_removing_every_series_empties_the_cache(settings_in: Settings) -> None:
    fill(settings_in)
    listed = list_cached_series(settings_in)

    removal = remove_cached_series(every_series=True, settings=settings_in)

    assert [removed.key for removed in removal.series] == [series.key for series in listed]
    assert removal.bytes_freed == sum(series.size_bytes for series in listed)
    assert list_cached_series(settings_in) == []
    assert remove_cached_series(every_series=True, settings=settings_in).series == ()


def test_a_store_can_be_passed_instead_of_settings(tmp_path: Path, settings_in: Settings) -> None:
    store = ParquetStore(tmp_path / "elsewhere")
    load_bars(
        "sample:SOL/USDT",
        timeframe="1d",
        start="2024-01-01",
        end="2024-02-01",
        settings=settings_in,
        store=store,
    )

    listed = inventory.list_cached_series(settings_in, store=store)

    assert [series.address for series in listed] == ["sample:SOL/USDT"]
    assert list_cached_series(settings_in) == []
    inventory.remove_cached_series("sample:SOL/USDT", settings=settings_in, store=store)
    assert inventory.list_cached_series(settings_in, store=store) == []


# What the loader stores -----------------------------------------------------------------


def only(listed: list[CachedSeries]) -> CachedSeries:
    assert len(listed) == 1
    return listed[0]


def test_the_forming_bar_is_served_but_never_stored(
    settings_in: Settings, test_sources: None
) -> None:
    now = pd.Timestamp("2024-05-01 10:59:59", tz="UTC")
    forming = now.floor("h")
    start, end = forming - pd.Timedelta(hours=6), forming + pd.Timedelta(hours=1)

    def load() -> LoadResult:
        return load_bars(
            "recording:X",
            timeframe="1h",
            start=start,
            end=end,
            settings=settings_in,
            clock=lambda: now,
        )

    first = load()

    assert first.frame.index[-1] == forming  # the caller sees the forming bar
    cached = only(list_cached_series(settings_in))
    assert cached.coverage == (TimeRange(start, forming),)
    assert cached.last == forming - pd.Timedelta(hours=1)
    assert cached.rows == 6

    second = load()

    tail = TimeRange(forming, end)
    assert RecordingSource.requests == [TimeRange(start, forming), tail, tail]
    assert second.fetched_ranges == (tail,)
    assert only(list_cached_series(settings_in)).coverage == (TimeRange(start, forming),)
    pd.testing.assert_frame_equal(first.frame, second.frame)


def test_a_bar_off_the_epoch_grid_is_stored_only_after_it_ended_and_settled(
    settings_in: Settings, test_sources: None
) -> None:
    start = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=8)
    end = pd.Timestamp.now(tz="UTC").ceil("h") + pd.Timedelta(hours=1)
    before = pd.Timestamp.now(tz="UTC")
    result = load_bars("half_past:X", timeframe="1h", start=start, end=end, settings=settings_in)
    after = pd.Timestamp.now(tz="UTC")

    forming = result.frame.index[-1]
    assert forming <= after < forming + pd.Timedelta(hours=1)
    (covered,) = only(list_cached_series(settings_in)).coverage
    margin = pd.Timedelta(hours=1) + INTRADAY_REVISION_MARGIN
    assert before - margin <= covered.end <= after - margin
    stored = ParquetStore.from_settings(settings_in).load(
        CacheKey("half_past", "X", Timeframe.parse("1h")), covered
    )
    assert (stored.index + pd.Timedelta(hours=1) + INTRADAY_REVISION_MARGIN <= after).all()
    assert forming not in stored.index


def test_overlapping_pages_are_stored_once(settings_in: Settings, test_sources: None) -> None:
    def load(start: str, end: str) -> pd.DataFrame:
        with pytest.warns(DataRepairWarning, match="duplicate timestamps"):
            result = load_bars(
                "overlapping:X", timeframe="1h", start=start, end=end, settings=settings_in
            )
        return result.frame

    load("2024-01-01", "2024-01-03")
    load("2024-01-02", "2024-01-05")
    widest = load("2023-12-31", "2024-01-06")

    assert OverlappingPagesSource.requests == [
        TimeRange.of("2024-01-01", "2024-01-03"),
        TimeRange.of("2024-01-03", "2024-01-05"),
        TimeRange.of("2023-12-31", "2024-01-01"),
        TimeRange.of("2024-01-05", "2024-01-06"),
    ]
    hours = pd.date_range("2023-12-31", "2024-01-06", freq="h", inclusive="left", tz="UTC")
    pd.testing.assert_frame_equal(widest, expected_bars(hours))
    cached = only(list_cached_series(settings_in))
    assert cached.rows == len(hours) == 6 * 24
    assert cached.coverage == (TimeRange.of("2023-12-31", "2024-01-06"),)
    assert cached.chunk_files == 2  # 2023.parquet and 2024.parquet
    store = ParquetStore.from_settings(settings_in)
    on_disk = store.load(cached.key, TimeRange.of("2000-01-01", "2100-01-01"))
    assert on_disk.index.is_unique
    pd.testing.assert_frame_equal(on_disk, expected_bars(hours))
