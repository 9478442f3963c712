"""The statistics' compiled scans agree exactly with the pandas and NumPy definitions.

Each reference below is the straightforward definition the scan replaces:
``day_of_week`` for the weekend share, ``resample("D").last()`` for daily
returns, the drawdown array for drawdown periods, and a per-bar count for
exposure.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from quantdesk.engine.scans import drawdown_periods_nb
from quantdesk.engine.stats import (
    _weekend_share,
    annualisation,
    bar_calendar,
    compute_statistics,
    drawdown_fraction,
    drawdown_periods,
    exposure_pct,
    max_drawdown_pct,
    period_returns,
)
from tests.frames import bars_from_closes

GENERATOR = np.random.default_rng(23)


def random_times(count: int, start: str, tz: str | None = "UTC") -> pd.DatetimeIndex:
    steps = GENERATOR.integers(1, 4 * 3_600, count) * 1_000_000_000
    first = pd.Timestamp(start).as_unit("ns").value
    return pd.DatetimeIndex(first + np.cumsum(steps), tz=tz, name="time")


INDEXES = {
    "crypto hourly": pd.date_range("2023-01-01", periods=5_000, freq="1h", tz="UTC"),
    "stocks daily": pd.bdate_range("2015-01-01", periods=1_500, tz="UTC"),
    "minutes": pd.date_range("2024-03-01", periods=20_000, freq="1min", tz="UTC"),
    "irregular": random_times(4_000, "2020-02-27"),
    "before 1970": random_times(3_000, "1969-12-01"),
    "naive": random_times(2_000, "2021-05-01", tz=None),
    "other zone": pd.date_range("2024-03-01", periods=3_000, freq="1h", tz="America/New_York"),
    "seconds unit": pd.date_range("2022-01-01", periods=2_000, freq="7h", tz="UTC").as_unit("s"),
    "unsorted": random_times(2_000, "2022-06-01")[GENERATOR.permutation(2_000)],
    "one bar": pd.DatetimeIndex(["2024-01-06 12:00"], tz="UTC"),
}


def reference_weekend_share(index: pd.DatetimeIndex) -> float:
    return float(np.mean(index.day_of_week >= 5))


def reference_period_returns(equity: pd.Series, rule: str) -> np.ndarray:
    last = equity.resample(rule).last().dropna().to_numpy(dtype=np.float64)
    return np.asarray(last[1:] / last[:-1] - 1.0, dtype=np.float64)


def equity_on(index: pd.DatetimeIndex) -> pd.Series:
    values = 10_000 * np.exp(np.cumsum(GENERATOR.normal(0, 0.01, len(index))))
    return pd.Series(values, index=index, name="equity")


@pytest.mark.parametrize("name", INDEXES)
def test_the_weekend_share_and_the_daily_returns_match_pandas(name: str) -> None:
    index = pd.DatetimeIndex(INDEXES[name])
    rule, periods = annualisation(index)
    if rule == "D":
        expected = 365.0 if reference_weekend_share(index) > 2 / 7 * 0.6 else 252.0
        assert periods == expected
    equity = equity_on(index)
    for each in ("D", rule):
        np.testing.assert_array_equal(
            period_returns(equity, each), reference_period_returns(equity, each)
        )


def test_a_day_whose_last_equity_is_nan_is_resampled() -> None:
    index = pd.DatetimeIndex(INDEXES["crypto hourly"])
    equity = equity_on(index)
    equity.iloc[[23, 47, 100]] = np.nan
    np.testing.assert_array_equal(
        period_returns(equity, "D"), reference_period_returns(equity, "D")
    )


@pytest.mark.parametrize("name", INDEXES)
def test_the_weekend_share_matches_day_of_week(name: str) -> None:
    index = pd.DatetimeIndex(INDEXES[name])
    assert _weekend_share(index) == reference_weekend_share(index)


def test_the_weekend_share_matches_across_weekday_boundaries() -> None:
    hours = pd.date_range("1969-12-20", "1970-01-20", freq="1h", tz="UTC")
    for start in range(0, 24 * 7, 5):
        index = pd.DatetimeIndex(hours[start : start + 24 * 9])
        assert _weekend_share(index) == reference_weekend_share(index)


def reference_drawdown(equity: np.ndarray, cash: float, index: pd.DatetimeIndex) -> tuple:
    drawdown = drawdown_fraction(equity, cash)
    return (max_drawdown_pct(drawdown), *drawdown_periods(drawdown, index))


@pytest.mark.parametrize(
    "equity",
    [
        np.array([10_000.0, 9_000.0, 10_000.0, 10_000.0, 9_500.0]),
        np.array([9_000.0, 10_000.0, 8_000.0, 12_000.0, 11_000.0, 12_000.0]),
        np.array([10_000.0, 10_000.0]),
        np.array([12_000.0, 9_000.0]),
        np.array([10_000.0, 9_000.0, np.nan, 11_000.0, 9_000.0]),
        np.array([10_000.0, np.inf, 9_000.0]),
        np.array([10_000.0, -np.inf, 9_000.0, 10_001.0]),
        np.array([10_000.0, 0.0, -5.0, 0.0]),
    ],
)
@pytest.mark.filterwarnings("ignore:.*encountered:RuntimeWarning")
def test_drawdowns_match_the_drawdown_array(equity: np.ndarray) -> None:
    index = pd.date_range("2024-01-01", periods=len(equity), freq="D", tz="UTC")
    trades = pd.DataFrame(
        {"entry_bar": [0], "exit_bar": [1], "pnl": [1.0], "return_pct": [1.0], "commission": [0.0]}
    )
    stats = compute_statistics(
        equity=pd.Series(equity, index=index),
        trades=trades,
        close=np.full(len(equity), 100.0),
        initial_cash=10_000.0,
        open_entry_bar=None,
        open_commission=0.0,
        periods_per_year=None,
    )
    deepest, depths, durations = reference_drawdown(equity, 10_000.0, index)
    assert same(stats["max_drawdown_pct"], deepest)
    assert same(
        stats["avg_drawdown_pct"], float(np.mean(depths) * 100.0) + 0.0 if len(depths) else 0.0
    )
    longest = pd.Timedelta(durations.max()) if len(durations) else pd.Timedelta(0)
    assert stats["max_drawdown_duration"] == longest


def test_random_equity_curves_match_the_drawdown_array() -> None:
    for _ in range(200):
        count = int(GENERATOR.integers(2, 300))
        steps = GENERATOR.choice([-1.0, 0.0, 1.0], count) * GENERATOR.integers(0, 3, count)
        equity = 10_000.0 + np.cumsum(steps) * 50.0
        index = pd.DatetimeIndex(random_times(count, "2024-01-01"))
        trades = pd.DataFrame(
            {"entry_bar": [], "exit_bar": [], "pnl": [], "return_pct": [], "commission": []}
        )
        stats = compute_statistics(
            equity=pd.Series(equity, index=index),
            trades=trades,
            close=np.full(count, 100.0),
            initial_cash=10_000.0,
            open_entry_bar=None,
            open_commission=0.0,
            periods_per_year=None,
        )
        deepest, depths, durations = reference_drawdown(equity, 10_000.0, index)
        assert stats["max_drawdown_pct"] == deepest
        assert stats["avg_drawdown_pct"] == (
            float(np.mean(depths) * 100.0) + 0.0 if len(depths) else 0.0
        )
        assert stats["max_drawdown_duration"] == (
            pd.Timedelta(durations.max()) if len(durations) else pd.Timedelta(0)
        )


@pytest.mark.filterwarnings("ignore:.*encountered:RuntimeWarning")
def test_the_drawdown_scan_matches_the_drawdown_array_on_awkward_curves() -> None:
    for trial in range(3_000):
        count = int(GENERATOR.integers(1, 40))
        cash = float(GENERATOR.choice([10_000.0, 1.0, 5e-324, 1e300]))
        levels = cash * (1.0 + GENERATOR.integers(-3, 3, count) * 0.1)
        just_below = np.nextafter(levels, -np.inf)
        equity = np.where(GENERATOR.random(count) < 0.2, just_below, levels)
        if trial % 3 == 0:
            equity[GENERATOR.integers(count)] = GENERATOR.choice(
                [np.nan, np.inf, -np.inf, 0.0, -cash, np.finfo(float).max]
            )
        drawdown = drawdown_fraction(equity, cash)
        deepest, depths, starts, ends = drawdown_periods_nb(equity, cash)
        if np.isnan(drawdown).any():
            assert math.isnan(deepest)
            continue
        index = pd.date_range("2024-01-01", periods=count, freq="h", tz="UTC").as_unit("ns")
        expected_depths, expected_durations = drawdown_periods(drawdown, index)
        assert deepest == np.min(drawdown)
        np.testing.assert_array_equal(depths, expected_depths)
        durations = (index.asi8[ends] - index.asi8[starts]).astype("timedelta64[ns]")
        np.testing.assert_array_equal(durations, expected_durations)


def reference_exposure(entry_bars: np.ndarray, exit_bars: np.ndarray, bar_count: int) -> float:
    change = np.zeros(bar_count + 1, dtype=np.int64)
    np.add.at(change, entry_bars, 1)
    np.add.at(change, exit_bars + 1, -1)
    held = np.cumsum(change[:-1]) > 0
    return float(held.mean() * 100.0)


def test_exposure_matches_a_count_of_held_bars() -> None:
    for _ in range(2_000):
        bar_count = int(GENERATOR.integers(1, 80))
        trade_count = int(GENERATOR.integers(0, 10))
        entry_bars = GENERATOR.integers(0, bar_count, trade_count)
        exit_bars = np.minimum(entry_bars + GENERATOR.integers(0, 12, trade_count), bar_count - 1)
        assert exposure_pct(entry_bars, exit_bars, bar_count) == reference_exposure(
            entry_bars, exit_bars, bar_count
        )


def test_a_backtest_on_minute_bars_agrees_with_the_definitions() -> None:
    closes = 100 * np.exp(np.cumsum(GENERATOR.normal(0, 0.001, 30_000)))
    bars = bars_from_closes(closes, frequency="1min", spread=0.01)
    equity = pd.Series(10_000 * closes / closes[0], index=bars.index)
    rule, _ = annualisation(pd.DatetimeIndex(bars.index))
    assert rule == "D"
    np.testing.assert_array_equal(
        period_returns(equity, rule), reference_period_returns(equity, rule)
    )


def same(left: float, right: float) -> bool:
    return (math.isnan(left) and math.isnan(right)) or left == right


@pytest.mark.parametrize(
    "equity",
    [
        np.array([10_000.0, 9_000.0, 10_000.0, 10_000.0, 9_500.0] * 30),
        np.array([10_000.0, 9_000.0, np.nan, 11_000.0, 9_000.0] * 30),
        np.array([10_000.0, 11_000.0, 0.0, -5.0, 3.0] * 30),
    ],
)
@pytest.mark.parametrize("freq", ["1h", "D", "7D"])
@pytest.mark.filterwarnings("ignore:.*encountered:RuntimeWarning")
def test_a_calendar_made_once_and_trade_arrays_give_the_same_statistics(
    equity: np.ndarray, freq: str
) -> None:
    index = pd.date_range("2024-01-01", periods=len(equity), freq=freq, tz="UTC")
    trades = {
        "entry_bar": np.array([0, 10]),
        "exit_bar": np.array([5, 20]),
        "pnl": np.array([3.0, -1.0]),
        "return_pct": np.array([1.5, -0.5]),
        "commission": np.array([0.1, 0.2]),
    }
    common = {
        "close": np.full(len(equity), 100.0),
        "initial_cash": 10_000.0,
        "open_entry_bar": 30,
        "open_commission": 0.3,
        "periods_per_year": None,
        "risk_free_rate": 0.02,
    }
    full = compute_statistics(
        equity=pd.Series(equity, index=index), trades=pd.DataFrame(trades), **common
    )
    lean = compute_statistics(equity=equity, trades=trades, calendar=bar_calendar(index), **common)
    assert list(lean) == list(full)
    for key, value in full.items():
        assert lean[key] == value or (pd.isna(lean[key]) and pd.isna(value)), key
