"""Resampling to coarser bars: invariants checked with hypothesis, plus the edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quantdesk.core.frame import empty_ohlcv, is_canonical, validate_ohlcv
from quantdesk.core.resample import resample_ohlcv
from quantdesk.core.timeframe import Timeframe
from quantdesk.errors import InvalidInputError
from tests.frames import bars_from_closes


@st.composite
def minute_bars(draw: st.DrawFn) -> pd.DataFrame:
    """Random valid 1m bars with random gaps, starting anywhere in 2024."""
    count = draw(st.integers(1, 400))
    steps = draw(arrays(np.int64, count, elements=st.integers(1, 5)))
    offset = draw(st.integers(0, 60 * 24 * 365))
    minutes = offset + np.cumsum(steps)
    closes = draw(arrays(np.float64, count, elements=st.floats(1.0, 1_000.0)))
    opens = draw(arrays(np.float64, count, elements=st.floats(1.0, 1_000.0)))
    wick = draw(arrays(np.float64, count, elements=st.floats(0.0, 10.0)))
    volume = draw(arrays(np.float64, count, elements=st.floats(0.0, 1e6)))
    index = pd.DatetimeIndex(
        pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(minutes, unit="m"), name="time"
    ).as_unit("ns")
    return validate_ohlcv(
        pd.DataFrame(
            {
                "open": opens,
                "high": np.maximum(opens, closes) + wick,
                "low": np.maximum(np.minimum(opens, closes) - wick, 0.5),
                "close": closes,
                "volume": volume,
            },
            index=index,
        )
    )


targets = st.sampled_from(["5m", "15m", "1h", "4h", "1d", "1w"]).map(Timeframe.parse)


@given(frame=minute_bars(), target=targets)
def test_each_coarse_bar_summarises_exactly_its_parts(
    frame: pd.DataFrame, target: Timeframe
) -> None:
    coarse = resample_ohlcv(frame, target, source_timeframe="1m")
    assert is_canonical(coarse)
    bucket = pd.DatetimeIndex(target.bucket_starts(frame.index.asi8), tz="UTC")
    assert coarse.index.equals(pd.DatetimeIndex(bucket.unique(), name="time"))
    for start, bar in coarse.iterrows():
        parts = frame[bucket == start]
        assert bar["open"] == parts["open"].iloc[0]
        assert bar["high"] == parts["high"].max()
        assert bar["low"] == parts["low"].min()
        assert bar["close"] == parts["close"].iloc[-1]
        assert bar["volume"] == pytest.approx(parts["volume"].sum(), rel=1e-12)
        assert parts.index.min() >= start
        assert parts.index.max() < start + target.timedelta


@given(frame=minute_bars())
def test_resampling_in_two_steps_equals_one_step(frame: pd.DataFrame) -> None:
    direct = resample_ohlcv(frame, "4h")
    stepwise = resample_ohlcv(resample_ohlcv(frame, "1h"), "4h", source_timeframe="1h")
    pd.testing.assert_frame_equal(direct, stepwise, rtol=1e-12)


@given(frame=minute_bars(), target=targets)
def test_resampled_bars_are_valid_and_conserve_volume(
    frame: pd.DataFrame, target: Timeframe
) -> None:
    coarse = resample_ohlcv(frame, target)
    validate_ohlcv(coarse)
    assert coarse["volume"].sum() == pytest.approx(frame["volume"].sum(), rel=1e-9, abs=1e-6)
    assert len(coarse) <= len(frame)


def test_weekly_bars_start_on_monday() -> None:
    daily = bars_from_closes(np.linspace(100, 120, 30), start="2024-01-03", frequency="1D")
    weekly = resample_ohlcv(daily, "1w", source_timeframe="1d")
    assert set(weekly.index.day_name()) == {"Monday"}
    assert weekly.index[0] == pd.Timestamp("2024-01-01", tz="UTC")


def test_target_must_be_a_multiple_of_the_source() -> None:
    hourly = bars_from_closes([1, 2, 3])
    with pytest.raises(InvalidInputError, match="whole multiple of 1h"):
        resample_ohlcv(hourly, "90m", source_timeframe="1h")
    with pytest.raises(InvalidInputError, match="whole multiple"):
        resample_ohlcv(hourly, "30m", source_timeframe="1h")


def test_non_canonical_input_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="validate_ohlcv"):
        resample_ohlcv(bars_from_closes([1, 2]).rename(columns=str.upper), "1d")


def test_empty_frames_resample_to_empty() -> None:
    assert resample_ohlcv(empty_ohlcv(), "1d").empty
