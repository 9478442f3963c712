"""The result object: its frames, statistics, provenance and plot."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest

from quantdesk.engine import (
    ENGINE_VERSION,
    STAT_KEYS,
    TRADE_COLUMNS,
    BacktestConfig,
    BacktestResult,
    data_fingerprint,
    final_equity,
    prepare_prices,
    run_backtest,
)
from quantdesk.engine.stats import annualisation, drawdown_periods, profit_factor
from quantdesk.errors import UnknownNameError
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes

WAVE = bars_from_closes(100 + 10 * np.sin(np.arange(200) / 6.0), frequency="1h")


def wave_signals() -> Signals:
    close = WAVE["close"]
    rising = (close.diff() > 0).to_numpy()
    falling = (close.diff() < 0).to_numpy()
    turns_up = rising & ~np.r_[False, rising[:-1]]
    turns_down = falling & ~np.r_[False, falling[:-1]]
    return Signals.from_series(turns_up, short_entries=turns_down)


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return run_backtest(
        WAVE,
        wave_signals(),
        BacktestConfig(commission=0.001),
        parameters={"period": 6},
        strategy_name="wave",
    )


def test_the_trades_table_has_the_documented_columns(result: BacktestResult) -> None:
    trades = result.trades
    assert tuple(trades.columns) == TRADE_COLUMNS
    assert len(trades) >= 5
    assert trades["entry_bar"].dtype == np.int64
    assert str(trades["entry_time"].dtype) == "datetime64[ns, UTC]"
    assert set(trades["exit_reason"].cat.categories) == {
        "signal",
        "reversal",
        "stop_loss",
        "take_profit",
        "trailing_stop",
        "time",
        "end",
        "liquidation",
    }
    assert (trades["size"] < 0).any()
    assert (trades["size"] > 0).any()


def test_an_empty_trades_table_keeps_its_columns() -> None:
    nothing = Signals.from_series(np.zeros(len(WAVE), dtype=bool))
    empty = run_backtest(WAVE, nothing)
    assert tuple(empty.trades.columns) == TRADE_COLUMNS
    assert empty.trades.empty
    assert empty.stats["n_trades"] == 0
    assert math.isnan(empty.stats["win_rate_pct"])
    assert empty.stats["exposure_pct"] == 0
    assert empty.stats["max_drawdown_pct"] == 0
    assert empty.stats["max_drawdown_duration"] == pd.Timedelta(0)


def test_equity_and_drawdown_share_the_frames_index(result: BacktestResult) -> None:
    equity, drawdown = result.equity, result.drawdown
    assert equity.index.equals(WAVE.index)
    assert drawdown.index.equals(WAVE.index)
    assert (drawdown <= 0).all()
    peak = np.maximum(np.maximum.accumulate(equity.to_numpy()), 10_000)
    np.testing.assert_allclose(drawdown.to_numpy(), equity.to_numpy() / peak - 1)


def test_stats_have_the_stable_keys(result: BacktestResult) -> None:
    stats = result.stats
    assert tuple(stats.index) == STAT_KEYS
    assert isinstance(stats["n_trades"], int)
    assert isinstance(stats["max_drawdown_duration"], pd.Timedelta)
    for key in set(STAT_KEYS) - {"n_trades", "max_drawdown_duration"}:
        assert isinstance(stats[key], float), key
    assert stats["final_equity"] == result.equity.iloc[-1]
    assert stats["max_drawdown_pct"] == pytest.approx(result.drawdown.min() * 100)


def test_provenance_is_kept(result: BacktestResult) -> None:
    assert result.parameters == {"period": 6}
    assert result.strategy_name == "wave"
    assert result.engine_version == ENGINE_VERSION
    assert result.config == BacktestConfig(commission=0.001)
    assert result.data_fingerprint == data_fingerprint(WAVE)
    assert "wave" in repr(result)
    pd.testing.assert_series_equal(pickle.loads(pickle.dumps(result)).stats, result.stats)


def test_stats_are_a_series_that_reads_like_a_dict(result: BacktestResult) -> None:
    stats = result.stats
    assert isinstance(stats, pd.Series)
    assert stats.dtype == object
    assert list(stats.index) == list(STAT_KEYS)
    final = float(result.equity.iloc[-1])
    assert stats["final_equity"] == final
    assert stats.get("final_equity") == final
    assert stats.get("no such statistic") is None
    assert "sharpe" in stats
    assert "no such statistic" not in stats
    as_dict = dict(stats)
    assert list(as_dict) == list(STAT_KEYS)
    assert as_dict == dict(stats.items())
    assert type(as_dict["n_trades"]) is int
    assert as_dict["n_trades"] == len(result.trades)
    assert "total_return_pct" in repr(stats)


def test_the_fingerprint_is_stable_and_sees_every_value() -> None:
    fingerprint = data_fingerprint(WAVE)
    assert len(fingerprint) == 32
    assert data_fingerprint(WAVE.copy()) == fingerprint
    for column in ("open", "volume"):
        changed = WAVE.copy()
        changed.iloc[7, changed.columns.get_loc(column)] += 0.01
        assert data_fingerprint(changed) != fingerprint
    shifted = WAVE.copy()
    shifted.index = shifted.index + pd.Timedelta(hours=1)
    assert data_fingerprint(shifted) != fingerprint


def test_final_equity_of_the_lean_path(result: BacktestResult) -> None:
    prices = prepare_prices(WAVE)
    lean = final_equity(prices, wave_signals(), BacktestConfig(commission=0.001))
    assert lean == result.stats["final_equity"]


def test_plot_has_price_equity_and_drawdown_panels(result: BacktestResult) -> None:
    import holoviews  # a dependency; imported here so collecting the tests stays quick

    layout = result.plot()
    assert isinstance(layout, holoviews.Layout)
    panels = list(layout)
    assert len(panels) == 3
    price, equity, drawdown = panels
    assert isinstance(price, holoviews.Overlay)
    assert any(isinstance(element, holoviews.Scatter) for element in price)
    assert isinstance(equity, holoviews.Curve)
    assert isinstance(drawdown, holoviews.Area)


def test_an_unknown_plotter_is_named_with_the_installed_ones(result: BacktestResult) -> None:
    with pytest.raises(UnknownNameError, match="holoviews"):
        result.plot(plotter="holoview")


def test_plot_thins_long_series() -> None:
    bars = 50_000
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.001, bars)))
    frame = bars_from_closes(closes, frequency="1min", spread=0.01)
    long_result = run_backtest(frame, Signals.from_series(np.r_[True, np.zeros(bars - 1, bool)]))
    _, equity, drawdown = list(long_result.plot())
    assert len(equity) <= 4_000
    assert len(drawdown) <= 4_000
    assert equity.dimension_values("equity").min() == long_result.equity.min()


def test_annualisation_follows_the_calendar() -> None:
    daily_stocks = pd.bdate_range("2024-01-01", periods=300, tz="UTC")
    assert annualisation(pd.DatetimeIndex(daily_stocks)) == ("D", 252.0)
    crypto = pd.date_range("2024-01-01", periods=300, freq="4h", tz="UTC")
    assert annualisation(crypto) == ("D", 365.0)
    weekly = pd.date_range("2024-01-01", periods=60, freq="W-MON", tz="UTC")
    assert annualisation(weekly) == ("W", 52.0)


def test_periods_per_year_overrides_the_detected_calendar(result: BacktestResult) -> None:
    config = BacktestConfig(commission=0.001, periods_per_year=252)
    override = run_backtest(WAVE, wave_signals(), config)
    detected = result.stats
    assert override.stats["total_return_pct"] == detected["total_return_pct"]
    assert override.stats["return_ann_pct"] != detected["return_ann_pct"]


def test_drawdown_periods_run_from_peak_to_peak() -> None:
    drawdown = np.array([0.0, -0.1, -0.3, 0.0, 0.0, -0.2, -0.1])
    index = pd.date_range("2024-01-01", periods=7, freq="D", tz="UTC")
    depths, durations = drawdown_periods(drawdown, pd.DatetimeIndex(index))
    np.testing.assert_array_equal(depths, [-0.3, -0.2])
    assert list(pd.to_timedelta(durations)) == [pd.Timedelta(days=3), pd.Timedelta(days=2)]


def test_profit_factor_edges() -> None:
    assert profit_factor(np.array([2.0, -1.0, 1.0])) == 3.0
    assert profit_factor(np.array([2.0])) == math.inf
    assert math.isnan(profit_factor(np.array([])))
