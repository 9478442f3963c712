"""The ``sample`` data source: discovery, symbols, refusals and what it serves."""

from __future__ import annotations

import pandas as pd
import pytest

from quantdesk.config import Settings
from quantdesk.core.frame import is_canonical
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.source import available_sources, get_source
from quantdesk.data.sources.sample import SampleSource
from quantdesk.errors import FatalSourceError, InvalidInputError
from quantdesk.synthetic import SAMPLE_MARKETS, generate_sample_bars


@pytest.fixture
def source(settings_in: Settings) -> SampleSource:
    built = get_source("sample", settings_in)
    assert isinstance(built, SampleSource)
    return built


def span(start: str, end: str) -> TimeRange:
    return TimeRange.of(start, end)


def test_the_source_is_discovered_through_its_entry_point() -> None:
    assert available_sources()["sample"] is SampleSource
    assert SampleSource.name == "sample"
    assert "synthetic" in SampleSource.description
    assert SampleSource.cacheable


def test_it_lists_every_sample_symbol(source: SampleSource) -> None:
    symbols = source.symbols()
    assert list(symbols) == list(SAMPLE_MARKETS)
    assert {"BTC/USDT", "ETH/USDT", "SOL/USDT", "AAPL", "MSFT", "GOOG", "SPY"} <= set(symbols)


def test_it_serves_the_generated_bars(source: SampleSource) -> None:
    window = span("2024-02-01", "2024-02-03")
    frame = source.fetch("BTC/USDT", "1h", window)
    assert is_canonical(frame)
    assert len(frame) == 48
    pd.testing.assert_frame_equal(
        frame, generate_sample_bars("BTC/USDT", Timeframe.parse("1h"), window), check_freq=False
    )


def test_an_unknown_symbol_is_refused_with_the_close_match(source: SampleSource) -> None:
    with pytest.raises(FatalSourceError, match="did you mean 'BTC/USDT'") as caught:
        source.fetch("BTC/USDX", "1h", span("2024-01-01", "2024-01-02"))
    assert "\n" not in str(caught.value)
    with pytest.raises(FatalSourceError, match="choose one of: AAPL, BTC/USDT"):
        source.fetch("DOGE", "1h", span("2024-01-01", "2024-01-02"))


@pytest.mark.parametrize(
    ("start", "end"), [("2010-01-01", "2010-02-01"), ("2026-01-01", "2026-02-01")]
)
def test_a_range_wholly_outside_the_span_is_refused(
    source: SampleSource, start: str, end: str
) -> None:
    with pytest.raises(FatalSourceError, match="covers 2015-01-01 to 2026-01-01") as caught:
        source.fetch("AAPL", "1d", span(start, end))
    message = str(caught.value)
    assert "\n" not in message
    assert "inside it" in message
    assert isinstance(caught.value, InvalidInputError)


def test_a_range_reaching_past_the_span_serves_the_part_inside(source: SampleSource) -> None:
    frame = source.fetch("ETH/USDT", "1d", span("2025-12-30", "2026-02-01"))
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2025-12-30", "2025-12-31"]


def test_a_weekend_of_a_stock_is_an_empty_canonical_frame(source: SampleSource) -> None:
    frame = source.fetch("SPY", "5m", span("2024-03-09", "2024-03-11"))
    assert frame.empty
    assert is_canonical(frame)


def test_every_standard_timeframe_is_served(source: SampleSource) -> None:
    for text in ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w"):
        frame = source.fetch("GOOG", text, span("2024-03-04", "2024-03-19"))
        assert is_canonical(frame), text
        assert not frame.empty, text
