"""The synthetic sample markets: layout, sessions, range independence and stylized facts."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.core.frame import is_canonical, validate_ohlcv
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.synthetic import (
    SAMPLE_MARKETS,
    SAMPLE_SPAN,
    MarketSpec,
    generate_sample_bars,
    market_regimes,
    sample_market,
)
from quantdesk.synthetic import generator as generator_module

CRYPTO = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
STOCKS = ("AAPL", "MSFT", "GOOG", "SPY")
NEW_YORK = "America/New_York"


def span(start: str | pd.Timestamp, end: str | pd.Timestamp) -> TimeRange:
    return TimeRange.of(start, end)


@functools.cache
def bars(symbol: str, timeframe: str, start: str, end: str) -> pd.DataFrame:
    return generate_sample_bars(symbol, timeframe, span(start, end))


def daily_bars(symbol: str) -> pd.DataFrame:
    return bars(symbol, "1d", "2015-01-01", "2026-01-01")


def log_returns(frame: pd.DataFrame) -> np.ndarray:
    return np.diff(np.log(frame["close"].to_numpy()))


def autocorrelations(values: np.ndarray, lags: range) -> np.ndarray:
    centred = values - values.mean()
    variance = float(np.mean(centred * centred))
    return np.array([np.mean(centred[:-lag] * centred[lag:]) / variance for lag in lags])


def excess_kurtosis(values: np.ndarray) -> float:
    centred = values - values.mean()
    return float(np.mean(centred**4) / np.mean(centred**2) ** 2 - 3.0)


# --- the catalogue ---------------------------------------------------------------------------


def test_the_catalogue_holds_crypto_pairs_and_us_stocks() -> None:
    assert set(CRYPTO) | set(STOCKS) <= set(SAMPLE_MARKETS)
    for symbol, spec in SAMPLE_MARKETS.items():
        assert spec.symbol == symbol
        assert spec.asset_class == ("crypto" if "/" in symbol else "stock")


def test_the_span_is_2015_to_2026_with_the_end_excluded() -> None:
    assert span("2015-01-01", "2026-01-01") == SAMPLE_SPAN


def test_specs_are_frozen_and_the_catalogue_read_only() -> None:
    spec = SAMPLE_MARKETS["AAPL"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.start_price = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        SAMPLE_MARKETS["NEW"] = spec  # type: ignore[index]


def test_a_spec_with_impossible_values_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="start_price"):
        MarketSpec("X", "stock", 0.0, 0.1, 0.2, 1.0, 2, 0)
    with pytest.raises(InvalidInputError, match="asset class"):
        MarketSpec("X", "bond", 1.0, 0.1, 0.2, 1.0, 2, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("function", [sample_market, market_regimes])
def test_an_unknown_symbol_names_the_close_match(function: object) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown sample symbol 'BTC/USD'.*'BTC/USDT'"):
        function("BTC/USD")  # type: ignore[operator]
    with pytest.raises(UnknownNameError, match="did you mean 'AAPL'"):
        generate_sample_bars("AAPLE", "1h", span("2024-01-01", "2024-01-02"))


# --- layout and validity ---------------------------------------------------------------------


@pytest.mark.parametrize("symbol", [*CRYPTO, *STOCKS])
@pytest.mark.parametrize(
    ("timeframe", "start", "end"),
    [
        ("1m", "2020-03-09", "2020-03-14"),
        ("7m", "2020-03-01", "2020-03-05"),
        ("1h", "2020-01-01", "2020-07-01"),
        ("5h", "2020-01-01", "2020-03-01"),
        ("1d", "2015-01-01", "2026-01-01"),
        ("1w", "2015-01-01", "2026-01-01"),
    ],
)
def test_bars_are_canonical_and_valid_without_repairs(
    symbol: str, timeframe: str, start: str, end: str
) -> None:
    frame = bars(symbol, timeframe, start, end)
    assert len(frame) > 0
    assert is_canonical(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checked = validate_ohlcv(frame)
    pd.testing.assert_frame_equal(checked, frame, check_exact=True, check_freq=False)
    assert (frame.index >= pd.Timestamp(start, tz="UTC")).all()
    assert (frame.index < pd.Timestamp(end, tz="UTC")).all()
    assert (frame["volume"] > 0).all()


def test_prices_sit_on_the_tick_and_stock_volumes_are_whole_shares() -> None:
    stock = bars("AAPL", "1m", "2020-03-09", "2020-03-14")
    prices = stock[["open", "high", "low", "close"]].to_numpy()
    np.testing.assert_allclose(prices * 100, np.round(prices * 100), rtol=0, atol=1e-6)
    assert (stock["volume"] == np.round(stock["volume"])).all()
    sol = bars("SOL/USDT", "1m", "2020-03-09", "2020-03-14")
    scaled = sol[["open", "close"]].to_numpy() * 10_000
    np.testing.assert_allclose(scaled, np.round(scaled), rtol=0, atol=1e-6)


def test_crypto_trades_every_minute_and_each_bar_opens_at_the_last_close() -> None:
    frame = bars("BTC/USDT", "1m", "2020-03-09", "2020-03-14")
    assert len(frame) == 5 * 1440
    assert (np.diff(frame.index.asi8) == 60 * 10**9).all()
    np.testing.assert_array_equal(frame["open"].to_numpy()[1:], frame["close"].to_numpy()[:-1])


def test_crypto_bars_lie_on_the_epoch_grid() -> None:
    for timeframe in ("7m", "5h"):
        frame = bars("ETH/USDT", timeframe, "2020-03-01", "2020-03-05")
        grid = Timeframe.parse(timeframe).bucket_starts(frame.index.asi8)
        np.testing.assert_array_equal(grid, frame.index.asi8)
        assert (np.diff(frame.index.asi8) == Timeframe.parse(timeframe).nanoseconds).all()


def test_daily_bars_start_at_midnight_utc_and_weekly_bars_on_monday() -> None:
    daily = daily_bars("BTC/USDT")
    assert len(daily) == (SAMPLE_SPAN.end - SAMPLE_SPAN.start).days
    assert (daily.index == daily.index.normalize()).all()
    weekly = bars("SPY", "1w", "2015-01-01", "2026-01-01")
    assert (weekly.index.day_of_week == 0).all()
    assert weekly.index[0] == pd.Timestamp("2015-01-05", tz="UTC")


def test_daily_open_and_close_agree_across_timeframes() -> None:
    daily = bars("SOL/USDT", "1d", "2021-05-01", "2021-06-01")
    hourly = bars("SOL/USDT", "1h", "2021-05-01", "2021-06-01")
    grouped = hourly.groupby(hourly.index.floor("D"))
    np.testing.assert_array_equal(grouped["open"].first().to_numpy(), daily["open"].to_numpy())
    np.testing.assert_array_equal(grouped["close"].last().to_numpy(), daily["close"].to_numpy())
    minutes = bars("MSFT", "1m", "2021-05-03", "2021-05-08")
    sessions = bars("MSFT", "1d", "2021-05-03", "2021-05-08")
    by_date = minutes.groupby(minutes.index.floor("D"))
    np.testing.assert_array_equal(by_date["open"].first().to_numpy(), sessions["open"].to_numpy())
    np.testing.assert_array_equal(by_date["close"].last().to_numpy(), sessions["close"].to_numpy())


def test_a_weekly_bar_aggregates_the_daily_bars_of_its_week() -> None:
    weekly = bars("GOOG", "1w", "2023-01-02", "2023-02-06")
    daily = bars("GOOG", "1d", "2023-01-02", "2023-02-06")
    week = daily.loc["2023-01-09":"2023-01-15"]
    first = weekly.loc["2023-01-09"]
    assert first["open"] == week["open"].iloc[0]
    assert first["close"] == week["close"].iloc[-1]
    assert first["high"] == week["high"].max()
    assert first["low"] == week["low"].min()
    assert first["volume"] == pytest.approx(week["volume"].sum())


def test_the_timeframe_may_be_given_as_text() -> None:
    window = span("2024-01-01", "2024-01-03")
    as_text = generate_sample_bars("BTC/USDT", "4h", window)
    as_object = generate_sample_bars("BTC/USDT", Timeframe.parse("4h"), window)
    pd.testing.assert_frame_equal(as_text, as_object)
    assert len(as_text) == 12


# --- stock sessions --------------------------------------------------------------------------


def test_stock_bars_fall_in_regular_sessions_on_weekdays() -> None:
    frame = bars("AAPL", "1h", "2020-01-01", "2020-07-01")
    local = frame.index.tz_convert(NEW_YORK)
    minutes = local.hour * 60 + local.minute
    assert (minutes >= 9 * 60 + 30).all()
    assert (minutes < 16 * 60).all()
    assert (local.day_of_week < 5).all()
    assert set(frame.groupby(local.date).size()) == {7}
    assert {(day.hour, day.minute) for day in local[local.date == local.date[0]]} == {
        (hour, 30) for hour in range(9, 16)
    }


def test_stock_sessions_follow_daylight_saving_time() -> None:
    winter = bars("SPY", "1m", "2024-01-08", "2024-01-09")
    summer = bars("SPY", "1m", "2024-07-08", "2024-07-09")
    assert winter.index[0] == pd.Timestamp("2024-01-08 14:30", tz="UTC")
    assert summer.index[0] == pd.Timestamp("2024-07-08 13:30", tz="UTC")
    assert len(winter) == len(summer) == 390
    assert summer.index[-1] == pd.Timestamp("2024-07-08 19:59", tz="UTC")


def test_the_last_stock_bar_of_a_session_starts_before_the_close() -> None:
    frame = bars("MSFT", "4h", "2024-03-04", "2024-03-09")
    local = frame.index.tz_convert(NEW_YORK)
    assert sorted({(stamp.hour, stamp.minute) for stamp in local}) == [(9, 30), (13, 30)]
    assert len(frame) == 10


def test_stock_markets_close_on_weekends_and_fixed_holidays() -> None:
    assert generate_sample_bars("AAPL", "1m", span("2024-01-06", "2024-01-08")).empty
    for holiday in ("2024-01-01", "2024-07-04", "2024-12-25"):
        day = pd.Timestamp(holiday)
        assert generate_sample_bars("GOOG", "1h", span(day, day + pd.Timedelta(days=1))).empty
    daily = daily_bars("SPY")
    assert (daily.index.day_of_week < 5).all()
    assert (daily.index == daily.index.normalize()).all()
    assert 2_800 < len(daily) < 2_900


# --- ranges ----------------------------------------------------------------------------------


def test_longer_ranges_repeat_shorter_ones_bit_for_bit() -> None:
    shorter = generate_sample_bars("BTC/USDT", "1m", span("2024-01-01", "2024-03-01"))
    longer = generate_sample_bars("BTC/USDT", "1m", span("2024-01-01", "2024-04-01"))
    pd.testing.assert_frame_equal(longer.loc[: shorter.index[-1]], shorter, check_exact=True)
    assert len(longer) > len(shorter)


TIMEFRAMES = ("1m", "3m", "7m", "1h", "90m", "5h", "12h", "1d", "2d", "1w")


@settings(max_examples=60)
@given(
    symbol=st.sampled_from(sorted(SAMPLE_MARKETS)),
    timeframe=st.sampled_from(TIMEFRAMES),
    start_minute=st.integers(0, int(SAMPLE_SPAN.duration / pd.Timedelta(minutes=1))),
    bar_counts=st.tuples(st.integers(0, 400), st.integers(1, 400), st.integers(0, 400)),
)
def test_any_sub_range_gives_the_same_bars_as_a_wider_range(
    symbol: str, timeframe: str, start_minute: int, bar_counts: tuple[int, int, int]
) -> None:
    step = Timeframe.parse(timeframe).timedelta / 3
    before, inside, after = bar_counts
    inner_start = SAMPLE_SPAN.start + pd.Timedelta(minutes=start_minute)
    inner = TimeRange(inner_start, inner_start + inside * step)
    outer = TimeRange(inner.start - before * step, inner.end + after * step)
    wide = generate_sample_bars(symbol, timeframe, outer)
    narrow = generate_sample_bars(symbol, timeframe, inner)
    expected = wide[(wide.index >= inner.start) & (wide.index < inner.end)]
    pd.testing.assert_frame_equal(narrow, expected, check_exact=True)


def test_chunking_does_not_change_any_value(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = generate_sample_bars("ETH/USDT", "1m", span("2023-06-01 05:00", "2023-06-04"))
    monkeypatch.setattr(generator_module, "BARS_PER_CHUNK", 1_000)
    chunked = generate_sample_bars("ETH/USDT", "1m", span("2023-06-01 05:00", "2023-06-04"))
    pd.testing.assert_frame_equal(chunked, whole, check_exact=True)


def test_ranges_are_clipped_to_the_span() -> None:
    assert generate_sample_bars("BTC/USDT", "1d", span("2010-01-01", "2014-12-31")).empty
    assert generate_sample_bars("BTC/USDT", "1d", span("2026-01-01", "2027-01-01")).empty
    head = generate_sample_bars("BTC/USDT", "1d", span("2014-12-01", "2015-01-03"))
    assert list(head.index.strftime("%Y-%m-%d")) == ["2015-01-01", "2015-01-02"]
    tail = generate_sample_bars("BTC/USDT", "1h", span("2025-12-31 22:00", "2026-03-01"))
    assert list(tail.index.hour) == [22, 23]


def test_a_range_between_bar_starts_is_empty_and_starts_are_honoured() -> None:
    between = span("2024-01-01 10:01", "2024-01-01 11:00")
    assert generate_sample_bars("BTC/USDT", "1h", between).empty
    frame = generate_sample_bars("BTC/USDT", "1h", span("2024-01-01 10:01", "2024-01-01 11:01"))
    assert list(frame.index) == [pd.Timestamp("2024-01-01 11:00", tz="UTC")]


def test_values_are_the_same_in_a_fresh_process_with_another_hash_seed() -> None:
    probe = (
        "from quantdesk.synthetic import generate_sample_bars\n"
        "from quantdesk.core.time_range import TimeRange\n"
        "window = TimeRange.of('2019-05-01', '2019-05-03')\n"
        "frame = generate_sample_bars('ETH/USDT', '15m', window)\n"
        "print(frame.to_numpy().tobytes().hex())\n"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, check=True
    )
    here = generate_sample_bars("ETH/USDT", "15m", span("2019-05-01", "2019-05-03"))
    assert result.stdout.strip() == here.to_numpy().tobytes().hex()


def test_the_first_bar_opens_at_the_start_price() -> None:
    for symbol, spec in SAMPLE_MARKETS.items():
        first = daily_bars(symbol).iloc[0]
        if spec.asset_class == "crypto":
            assert first["open"] == spec.start_price
        else:
            assert first["open"] == pytest.approx(spec.start_price, rel=0.1)


# --- stylized facts --------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", [*CRYPTO, *STOCKS])
def test_daily_volatility_clusters_while_returns_stay_unpredictable(symbol: str) -> None:
    returns = log_returns(daily_bars(symbol))
    absolute = autocorrelations(np.abs(returns), range(1, 31))
    raw = autocorrelations(returns, range(1, 11))
    assert (absolute[:10] > 0.05).all(), absolute
    assert absolute.mean() > 0.08, absolute
    assert (np.abs(raw) < 0.1).all(), raw


@pytest.mark.parametrize("symbol", CRYPTO)
def test_hourly_volatility_clusters_over_days(symbol: str) -> None:
    returns = log_returns(bars(symbol, "1h", "2022-01-01", "2024-01-01"))
    absolute = autocorrelations(np.abs(returns), range(1, 73))
    raw = autocorrelations(returns, range(1, 25))
    assert (absolute > 0.0).all(), absolute
    assert absolute.mean() > 0.05, absolute
    assert (np.abs(raw) < 0.04).all(), raw


@pytest.mark.parametrize("symbol", [*CRYPTO, *STOCKS])
def test_returns_have_fat_tails(symbol: str) -> None:
    assert excess_kurtosis(log_returns(daily_bars(symbol))) > 1.5
    assert excess_kurtosis(log_returns(bars(symbol, "1h", "2022-01-01", "2024-01-01"))) > 3.0


def test_trending_and_mean_reverting_regimes_both_occur_and_behave_differently() -> None:
    horizon = 10
    ratios: dict[str, list[float]] = {"trend": [], "mean_reversion": []}
    for symbol in SAMPLE_MARKETS:
        regimes = market_regimes(symbol)
        frame = daily_bars(symbol)
        assert regimes.index.equals(frame.index)
        assert 0.25 < (regimes == "trend").mean() < 0.75
        returns = log_returns(frame)
        labels = regimes.to_numpy()[1:]
        boundaries = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1], True])
        sums: dict[str, list[np.ndarray]] = {"trend": [], "mean_reversion": []}
        singles: dict[str, list[np.ndarray]] = {"trend": [], "mean_reversion": []}
        for first, stop in itertools.pairwise(boundaries):
            episode = returns[first:stop]
            if len(episode) > horizon:
                windows = np.convolve(episode, np.ones(horizon), mode="valid")
                sums[labels[first]].append(windows**2)
                singles[labels[first]].append(episode**2)
        for regime in ratios:
            ratio = np.concatenate(sums[regime]).mean() / (
                horizon * np.concatenate(singles[regime]).mean()
            )
            ratios[regime].append(float(ratio))
    trend, reverting = np.array(ratios["trend"]), np.array(ratios["mean_reversion"])
    assert (trend > reverting + 0.2).all(), ratios
    assert np.median(trend) > 1.1, ratios
    assert np.median(reverting) < 0.85, ratios


@pytest.mark.parametrize("symbol", [*CRYPTO, *STOCKS])
def test_volume_rises_with_the_size_of_moves(symbol: str) -> None:
    frame = bars(symbol, "1h", "2022-01-01", "2024-01-01")
    moves = np.abs(np.log(frame["close"] / frame["open"]).to_numpy())
    assert np.corrcoef(moves, frame["volume"].to_numpy())[0, 1] > 0.3
    daily = daily_bars(symbol)
    typical = SAMPLE_MARKETS[symbol].daily_volume
    assert typical / 2 < daily["volume"].median() < typical * 2


@pytest.mark.parametrize("symbol", STOCKS)
def test_stock_volume_is_u_shaped_over_the_session(symbol: str) -> None:
    frame = bars(symbol, "30m", "2023-01-01", "2024-01-01")
    local = frame.index.tz_convert(NEW_YORK)
    by_slot = frame["volume"].groupby(local.strftime("%H:%M")).mean()
    midday = by_slot[["11:30", "12:00", "12:30", "13:00"]].mean()
    assert by_slot["09:30"] > 1.8 * midday
    assert by_slot["15:30"] > 1.2 * midday


@pytest.mark.parametrize(
    ("symbol", "lowest", "highest"),
    [
        ("BTC/USDT", 50.0, 300_000.0),
        ("ETH/USDT", 2.0, 20_000.0),
        ("SOL/USDT", 0.05, 2_000.0),
        ("AAPL", 8.0, 1_000.0),
        ("MSFT", 10.0, 1_500.0),
        ("GOOG", 8.0, 1_000.0),
        ("SPY", 100.0, 1_500.0),
    ],
)
def test_price_levels_are_plausible(symbol: str, lowest: float, highest: float) -> None:
    daily = daily_bars(symbol)
    assert daily["low"].min() > lowest
    assert daily["high"].max() < highest
    if symbol == "BTC/USDT":
        assert daily.loc["2021":, "close"].min() > 1_000
        assert 10_000 < daily.loc["2025", "close"].median() < 200_000


@pytest.mark.parametrize("symbol", [*CRYPTO, *STOCKS])
def test_realised_volatility_matches_the_spec(symbol: str) -> None:
    spec = SAMPLE_MARKETS[symbol]
    periods_per_year = 365 if spec.asset_class == "crypto" else 252
    realised = log_returns(daily_bars(symbol)).std() * np.sqrt(periods_per_year)
    assert 0.7 * spec.annual_volatility < realised < 1.4 * spec.annual_volatility
