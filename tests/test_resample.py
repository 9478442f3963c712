"""Resampling to coarser bars: session anchoring, invariants checked with hypothesis, the edges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import quantdesk
from quantdesk.config import Settings
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


def expected_buckets(index: pd.DatetimeIndex, target: Timeframe) -> pd.DatetimeIndex:
    """The documented rule, written with pandas: intraday buckets step from each UTC
    day's first bar floored to the quarter hour (or the target's finer grid)."""
    days = index.normalize()
    if target.seconds == 7 * 86_400:
        return days - pd.to_timedelta(days.day_of_week, unit="D")
    if target.seconds == 86_400:
        return days
    first_of_day = pd.Series(index, index=index).groupby(days).transform("min")
    open_grid = pd.Timedelta(seconds=math.gcd(target.seconds, 15 * 60))
    anchors = pd.DatetimeIndex(first_of_day).floor(open_grid)
    return anchors + ((index - anchors) // target.timedelta) * target.timedelta


targets = st.sampled_from(["5m", "10m", "15m", "1h", "2h", "4h", "1d", "1w"]).map(Timeframe.parse)


@given(frame=minute_bars(), target=targets)
def test_each_coarse_bar_summarises_exactly_its_parts(
    frame: pd.DataFrame, target: Timeframe
) -> None:
    coarse = resample_ohlcv(frame, target, source_timeframe="1m")
    assert is_canonical(coarse)
    bucket = expected_buckets(pd.DatetimeIndex(frame.index), target)
    assert coarse.index.equals(pd.DatetimeIndex(bucket.unique(), name="time"))
    for start, bar in coarse.iterrows():
        parts = frame[bucket == start]
        assert bar["open"] == parts["open"].iloc[0]
        assert bar["high"] == parts["high"].max()
        assert bar["low"] == parts["low"].min()
        assert bar["close"] == parts["close"].iloc[-1]
        assert bar["volume"] == pytest.approx(parts["volume"].sum(), rel=1e-12)


def assert_each_bar_lies_inside_its_coarse_bar(
    frame: pd.DataFrame, coarse: pd.DataFrame, source: Timeframe, target: Timeframe
) -> None:
    holder = np.searchsorted(coarse.index.asi8, frame.index.asi8, side="right") - 1
    starts = coarse.index[holder]
    assert (starts <= frame.index).all()
    assert (frame.index + source.timedelta <= starts + target.timedelta).all()


@given(frame=minute_bars(), target=targets)
def test_no_source_bar_straddles_two_target_bars(frame: pd.DataFrame, target: Timeframe) -> None:
    coarse = resample_ohlcv(frame, target, source_timeframe="1m")
    assert_each_bar_lies_inside_its_coarse_bar(frame, coarse, Timeframe.parse("1m"), target)


def test_no_sample_stock_hour_straddles_two_4h_bars(settings_in: Settings) -> None:
    hourly = quantdesk.load(
        "sample:AAPL", timeframe="1h", start="2024-03-01", end="2024-04-01", settings=settings_in
    )
    hour, four_hours = Timeframe.parse("1h"), Timeframe.parse("4h")
    coarse = resample_ohlcv(hourly, four_hours)
    assert_each_bar_lies_inside_its_coarse_bar(hourly, coarse, hour, four_hours)


@pytest.mark.parametrize(("middle", "target"), [("1h", "4h"), ("5m", "1h"), ("15m", "1d")])
@given(frame=minute_bars())
def test_resampling_in_two_steps_equals_one_step(
    frame: pd.DataFrame, middle: str, target: str
) -> None:
    direct = resample_ohlcv(frame, target, source_timeframe="1m")
    stepwise = resample_ohlcv(resample_ohlcv(frame, middle), target, source_timeframe=middle)
    pd.testing.assert_frame_equal(direct, stepwise, rtol=1e-12)


@given(frame=minute_bars(), target=targets)
def test_resampled_bars_are_valid_and_conserve_volume(
    frame: pd.DataFrame, target: Timeframe
) -> None:
    coarse = resample_ohlcv(frame, target)
    validate_ohlcv(coarse)
    assert coarse["volume"].sum() == pytest.approx(frame["volume"].sum(), rel=1e-9, abs=1e-6)
    assert len(coarse) <= len(frame)


@pytest.mark.parametrize("symbol", ["AAPL", "BTC/USDT"])
def test_loading_4h_equals_resampling_loaded_1h(symbol: str, settings_in: Settings) -> None:
    window = {"start": "2024-02-20", "end": "2024-03-20", "settings": settings_in}
    direct = quantdesk.load(f"sample:{symbol}", timeframe="4h", **window)
    hourly = quantdesk.load(f"sample:{symbol}", timeframe="1h", **window)
    resampled = resample_ohlcv(hourly, "4h", source_timeframe="1h")
    pd.testing.assert_frame_equal(resampled, direct, check_exact=True, check_freq=False)


def test_stock_4h_bars_start_at_the_new_york_open_across_daylight_saving(
    settings_in: Settings,
) -> None:
    hourly = quantdesk.load(
        "sample:AAPL", timeframe="1h", start="2024-03-04", end="2024-03-16", settings=settings_in
    )
    weekdays = pd.bdate_range("2024-03-04", "2024-03-15")
    opens = pd.DatetimeIndex(
        [pd.Timestamp(f"{day.date()} 09:30", tz="America/New_York") for day in weekdays]
    ).tz_convert("UTC")
    expected = opens.append(opens + pd.Timedelta(hours=4)).sort_values()
    resampled = resample_ohlcv(hourly, "4h", source_timeframe="1h")
    assert resampled.index.equals(pd.DatetimeIndex(expected, name="time").as_unit("ns"))
    assert resampled.index[0] == pd.Timestamp("2024-03-04 14:30", tz="UTC")
    assert resampled.index[-1] == pd.Timestamp("2024-03-15 17:30", tz="UTC")


def test_a_24_7_day_missing_its_first_minutes_keeps_the_epoch_grid() -> None:
    minutes = bars_from_closes(
        np.linspace(100, 101, 600), start="2024-01-02 00:07", frequency="1min"
    )
    hourly = resample_ohlcv(minutes, "1h", source_timeframe="1m")
    assert hourly.index[0] == pd.Timestamp("2024-01-02 00:00", tz="UTC")
    assert (hourly.index.minute == 0).all()


def test_a_24_7_series_that_begins_mid_day_can_keep_the_epoch_grid(
    settings_in: Settings,
) -> None:
    window = {"start": "2024-01-01 06:00", "end": "2024-01-03", "settings": settings_in}
    hourly = quantdesk.load("sample:BTC/USDT", timeframe="1h", **window)
    direct = quantdesk.load("sample:BTC/USDT", timeframe="4h", **window)
    by_session = resample_ohlcv(hourly, "4h", source_timeframe="1h")
    assert by_session.index[:2].tolist() == [
        pd.Timestamp("2024-01-01 06:00", tz="UTC"),
        pd.Timestamp("2024-01-01 10:00", tz="UTC"),
    ]
    by_epoch = resample_ohlcv(hourly, "4h", source_timeframe="1h", anchor="epoch")
    assert by_epoch.index[0] == pd.Timestamp("2024-01-01 04:00", tz="UTC")
    pd.testing.assert_frame_equal(by_epoch.iloc[1:], direct, check_exact=True, check_freq=False)


def test_an_unknown_anchor_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="anchor must be 'session' or 'epoch'"):
        resample_ohlcv(empty_ohlcv(), "1h", anchor="midnight")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "fix"), [("5h", "use '4h' or '6h'"), ("7m", "use '6m' or '8m'")]
)
def test_intraday_targets_that_do_not_divide_a_day_are_refused(target: str, fix: str) -> None:
    hourly = bars_from_closes(np.linspace(100, 110, 48))
    with pytest.raises(InvalidInputError, match="must divide 24h") as caught:
        resample_ohlcv(hourly, target)
    assert fix in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("target", ["2d", "3d", "6d"])
def test_targets_longer_than_a_day_must_be_whole_weeks(target: str) -> None:
    daily = bars_from_closes(np.linspace(100, 120, 30), start="2024-01-03", frequency="1D")
    with pytest.raises(InvalidInputError, match="must be whole weeks") as caught:
        resample_ohlcv(daily, target, source_timeframe="1d")
    assert "use '1d' or '1w'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_bar_off_its_session_grid_is_refused_rather_than_split() -> None:
    frame = bars_from_closes([100.0, 101.0])
    off_grid = frame.set_axis(
        pd.DatetimeIndex(["2024-01-02 00:00", "2024-01-02 01:40"], tz="UTC", name="time").as_unit(
            "ns"
        )
    )
    with pytest.raises(InvalidInputError, match="would straddle the 2h bar starting") as caught:
        resample_ohlcv(off_grid, "2h", source_timeframe="1h")
    assert "2024-01-02 01:40" in str(caught.value)


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
