"""Candlestick patterns: the registry, golden equality with TA-Lib and constructed candles."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import talib

from quantdesk.core.frame import validate_ohlcv
from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.patterns import CANDLESTICK_PATTERNS, candlestick_pattern, candlestick_patterns

Candle = tuple[float, float, float, float]


def candles(rows: list[Candle]) -> pd.DataFrame:
    """A canonical daily frame from (open, high, low, close) rows."""
    open_, high, low, close = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    index = pd.date_range("2024-01-01", periods=len(rows), freq="D", tz="UTC", name="time")
    raw = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1000.0}, index=index
    )
    return validate_ohlcv(raw)


def downtrend(bars: int = 12) -> list[Candle]:
    """Falling black candles, each 2 lower than the one before."""
    return [(110 - 2 * i, 110.3 - 2 * i, 108.2 - 2 * i, 108.5 - 2 * i) for i in range(bars)]


def uptrend(bars: int = 12) -> list[Candle]:
    """Rising white candles, each 2 higher than the one before."""
    return [(90 + 2 * i, 91.8 + 2 * i, 89.7 + 2 * i, 91.5 + 2 * i) for i in range(bars)]


def random_candles(bars: int = 400, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, bars))
    open_ = np.r_[close[0], close[:-1]] + rng.normal(0, 0.3, bars)
    high = np.maximum(open_, close) + rng.exponential(0.5, bars)
    low = np.minimum(open_, close) - rng.exponential(0.5, bars)
    return candles(list(zip(open_, high, low, close, strict=True)))


def test_every_registered_name_maps_to_a_talib_pattern_function() -> None:
    talib_patterns = set(talib.get_function_groups()["Pattern Recognition"])
    for name, function_name in CANDLESTICK_PATTERNS.items():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", name), name
        assert function_name in talib_patterns
        assert callable(getattr(talib, function_name))


def test_the_registry_covers_every_talib_pattern_once() -> None:
    talib_patterns = talib.get_function_groups()["Pattern Recognition"]
    assert len(talib_patterns) == 61
    assert sorted(CANDLESTICK_PATTERNS.values()) == sorted(talib_patterns)


def test_the_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        CANDLESTICK_PATTERNS["mine"] = "CDLDOJI"  # type: ignore[index]


def test_every_pattern_equals_the_sign_of_talib_on_random_candles() -> None:
    frame = random_candles()
    arrays = [frame[column].to_numpy() for column in ("open", "high", "low", "close")]
    result = candlestick_patterns(frame)
    assert list(result.columns) == list(CANDLESTICK_PATTERNS)
    assert result.index.equals(frame.index)
    assert (result.dtypes == np.int8).all()
    for name, function_name in CANDLESTICK_PATTERNS.items():
        expected = np.sign(getattr(talib, function_name)(*arrays))
        np.testing.assert_array_equal(result[name].to_numpy(), expected, err_msg=name)
    assert set(np.unique(result.to_numpy())) == {-1, 0, 1}


def test_one_pattern_is_a_named_int8_series() -> None:
    frame = random_candles(100)
    result = candlestick_pattern(frame, "engulfing")
    assert result.name == "engulfing"
    assert result.dtype == np.int8
    assert result.index.equals(frame.index)
    pd.testing.assert_series_equal(result, candlestick_patterns(frame, ["engulfing"])["engulfing"])


def test_bullish_engulfing_after_a_downtrend_is_detected() -> None:
    trend = downtrend()
    last_close = trend[-1][3]
    frame = candles(
        [*trend, (last_close - 0.2, last_close + 3.2, last_close - 0.5, last_close + 3.0)]
    )
    signals = candlestick_pattern(frame, "engulfing")
    assert signals.iloc[-1] == 1
    assert (signals.iloc[:-1] == 0).all()


def test_bearish_engulfing_after_an_uptrend_is_detected() -> None:
    trend = uptrend()
    last_close = trend[-1][3]
    frame = candles(
        [*trend, (last_close + 0.2, last_close + 0.5, last_close - 3.2, last_close - 3.0)]
    )
    signals = candlestick_pattern(frame, "engulfing")
    assert signals.iloc[-1] == -1
    assert (signals.iloc[:-1] == 0).all()


def test_plain_flat_candles_have_no_engulfing() -> None:
    rows: list[Candle] = [
        (100.0, 100.3, 99.9, 100.2) if bar % 2 == 0 else (100.2, 100.3, 99.9, 100.0)
        for bar in range(30)
    ]
    assert (candlestick_pattern(candles(rows), "engulfing") == 0).all()


def test_hammer_after_a_downtrend_and_shooting_star_after_an_uptrend() -> None:
    falling = downtrend()
    low_close = falling[-1][3]
    hammer = candles(
        [*falling, (low_close - 0.5, low_close - 0.1, low_close - 4.0, low_close - 0.2)]
    )
    assert candlestick_pattern(hammer, "hammer").iloc[-1] == 1
    rising = uptrend()
    high_close = rising[-1][3]
    star = candles(
        [*rising, (high_close + 0.6, high_close + 4.5, high_close + 0.15, high_close + 0.2)]
    )
    assert candlestick_pattern(star, "shooting_star").iloc[-1] == -1
    assert candlestick_pattern(star, "hammer").iloc[-1] == 0


def test_a_cross_candle_is_a_doji_and_a_full_body_is_not() -> None:
    falling = downtrend()
    close = falling[-1][3]
    cross = candles([*falling, (close - 0.5, close + 1.5, close - 2.5, close - 0.5)])
    assert candlestick_pattern(cross, "doji").iloc[-1] == 1
    assert (candlestick_pattern(candles(falling), "doji") == 0).all()


def test_names_are_deduplicated_and_a_single_name_is_accepted() -> None:
    frame = random_candles(60)
    assert list(candlestick_patterns(frame, ["doji", "hammer", "doji"]).columns) == [
        "doji",
        "hammer",
    ]
    assert list(candlestick_patterns(frame, "doji").columns) == ["doji"]
    assert candlestick_patterns(frame, []).shape == (60, 0)


def test_unknown_pattern_names_the_close_match() -> None:
    frame = random_candles(30)
    message = r"unknown candlestick pattern 'engulfng'; did you mean 'engulfing'\?"
    with pytest.raises(UnknownNameError, match=message) as caught:
        candlestick_pattern(frame, "engulfng")
    assert caught.value.kind == "candlestick pattern"
    with pytest.raises(UnknownNameError, match="'morningstar'"):
        candlestick_patterns(frame, ["doji", "morningstar"])


def test_pattern_name_must_be_text() -> None:
    with pytest.raises(InvalidInputError, match="must be text"):
        candlestick_pattern(random_candles(30), 3)  # type: ignore[arg-type]


def test_a_frame_without_prices_is_refused() -> None:
    frame = random_candles(30)
    with pytest.raises(UnknownNameError, match="unknown column 'open'"):
        candlestick_pattern(frame.drop(columns="open"), "doji")
    with pytest.raises(InvalidInputError, match="needs a frame"):
        candlestick_pattern(frame["close"], "doji")  # type: ignore[arg-type]
