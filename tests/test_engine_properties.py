"""Properties of the engine that hold for any bars, signals and trading rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantdesk.core.frame import validate_ohlcv
from quantdesk.engine import (
    BacktestConfig,
    BacktestResult,
    prepare_prices,
    run_backtest,
    simulate_equity,
)
from quantdesk.strategies.signals import Signals


def bars_from_moves(
    moves: list[float], gaps: list[float], wicks: list[tuple[float, float]]
) -> pd.DataFrame:
    close = 100.0 * np.exp(np.cumsum(moves))
    open_ = np.r_[100.0, close[:-1]] * (1.0 + np.asarray(gaps))
    upper = np.asarray([wick[0] for wick in wicks])
    lower = np.asarray([wick[1] for wick in wicks])
    index = pd.date_range("2024-01-01", periods=len(moves), freq="h", tz="UTC", name="time")
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1.0 + upper),
            "low": np.minimum(open_, close) * (1.0 - lower),
            "close": close,
            "volume": 1.0,
        },
        index=index,
    )
    return validate_ohlcv(frame)


@st.composite
def markets(draw: st.DrawFn) -> tuple[pd.DataFrame, Signals]:
    """Random bars with gaps and wicks, and random signals with optional time exits."""
    bars = draw(st.integers(min_value=2, max_value=60))
    moves = draw(st.lists(st.floats(-0.08, 0.08), min_size=bars, max_size=bars))
    gaps = draw(st.lists(st.floats(-0.04, 0.04), min_size=bars, max_size=bars))
    wick = st.tuples(st.floats(0.0, 0.04), st.floats(0.0, 0.04))
    wicks = draw(st.lists(wick, min_size=bars, max_size=bars))
    flags = st.lists(st.booleans(), min_size=bars, max_size=bars)
    long_entries = np.asarray(draw(flags))
    short_entries = np.asarray(draw(flags)) & ~long_entries
    signals = Signals(
        long_entries,
        np.asarray(draw(flags)),
        short_entries,
        np.asarray(draw(flags)),
        maximum_bars_held=draw(st.none() | st.integers(1, 6)),
    )
    return bars_from_moves(moves, gaps, wicks), signals


fractions = st.none() | st.floats(0.005, 0.2)
configs = st.builds(
    BacktestConfig,
    commission=st.sampled_from([0.0, 0.001, 0.01]),
    fixed_fee=st.sampled_from([0.0, 2.5]),
    slippage=st.sampled_from([0.0, 0.0005]),
    stop_loss=fractions,
    take_profit=fractions,
    trailing_stop=fractions,
    trade_on_close=st.booleans(),
    finalize_trades=st.booleans(),
)


def held_between(signals: Signals, size: float) -> tuple[np.ndarray, np.ndarray]:
    """The entry and exit signals of a trade's side."""
    if size > 0:
        return signals.long_entries, signals.long_exits
    return signals.short_entries, signals.short_exits


@given(markets(), configs)
def test_no_fill_comes_before_its_signal(
    market: tuple[pd.DataFrame, Signals], config: BacktestConfig
) -> None:
    frame, signals = market
    result = run_backtest(frame, signals, config)
    delay = 0 if config.trade_on_close else 1
    entries = list(zip(result.trades["entry_bar"], result.trades["size"], strict=True))
    if result.open_position is not None:
        entries.append((result.open_position.entry_bar, result.open_position.size))
    for entry_bar, size in entries:
        entry_signals, _ = held_between(signals, size)
        assert entry_bar - delay >= 0
        assert entry_signals[entry_bar - delay]
    for trade in result.trades.itertuples():
        entry_signals, exit_signals = held_between(signals, trade.size)
        opposite_entries, _ = held_between(signals, -trade.size)
        decided = trade.exit_bar - delay
        assert trade.exit_bar >= trade.entry_bar
        if trade.exit_reason == "signal":
            assert exit_signals[decided]
        elif trade.exit_reason == "reversal":
            assert opposite_entries[decided]
        elif trade.exit_reason == "time":
            assert trade.exit_bar - trade.entry_bar == signals.maximum_bars_held


def entry_commission(trade_size: float, entry_price: float, config: BacktestConfig) -> float:
    return config.fixed_fee + abs(trade_size) * entry_price * config.commission


def reconciled_equity(result: BacktestResult, close: np.ndarray) -> np.ndarray:
    """Starting cash, plus closed trades' profits, plus the open trade marked to each close."""
    config = result.config
    expected = np.full(len(close), config.cash)
    positions = [
        (trade.entry_bar, trade.exit_bar, trade.size, trade.entry_price, trade.pnl)
        for trade in result.trades.itertuples()
    ]
    if result.open_position is not None:
        position = result.open_position
        positions.append((position.entry_bar, len(close), position.size, position.entry_price, 0.0))
    for entry_bar, exit_bar, size, entry_price, pnl in positions:
        held = slice(entry_bar, exit_bar)
        expected[held] += size * (close[held] - entry_price) - entry_commission(
            size, entry_price, config
        )
        expected[exit_bar:] += pnl
    return expected


@given(markets(), configs)
def test_equity_is_cash_plus_the_marked_position_at_every_bar(
    market: tuple[pd.DataFrame, Signals], config: BacktestConfig
) -> None:
    frame, signals = market
    result = run_backtest(frame, signals, config)
    expected = reconciled_equity(result, frame["close"].to_numpy())
    np.testing.assert_allclose(result.equity.to_numpy(), expected, rtol=1e-9, atol=1e-6)


@given(markets(), st.booleans(), st.booleans())
def test_a_costless_round_trip_at_an_unchanged_price_changes_nothing(
    market: tuple[pd.DataFrame, Signals], trade_on_close: bool, finalize_trades: bool
) -> None:
    frame, signals = market
    unchanged = frame.copy()
    unchanged[["open", "high", "low", "close"]] = 123.25
    config = BacktestConfig(
        trade_on_close=trade_on_close, finalize_trades=finalize_trades, stop_loss=0.1
    )
    result = run_backtest(unchanged, signals, config)
    assert (result.equity == config.cash).all()
    assert (result.trades["pnl"] == 0).all()
    assert result.stats["final_equity"] == config.cash


@given(
    markets(),
    st.floats(0.001, 1000.0),
    st.sampled_from(["all_in", "cash", "equity_fraction"]),
    st.booleans(),
)
def test_scaling_every_price_leaves_returns_unchanged_with_fine_lots(
    market: tuple[pd.DataFrame, Signals], scale: float, sizing: str, trade_on_close: bool
) -> None:
    frame, signals = market
    scaled = frame.copy()
    scaled[["open", "high", "low", "close"]] *= scale
    size = {"all_in": None, "cash": 4_000.0, "equity_fraction": 0.6}[sizing]
    config = BacktestConfig(
        lot_size=1e-12,
        commission=0.001,
        fixed_fee=1.0,
        sizing=sizing,
        size=size,
        trade_on_close=trade_on_close,
    )
    original = run_backtest(frame, signals, config)
    rescaled = run_backtest(scaled, signals, config)
    np.testing.assert_allclose(
        rescaled.equity.to_numpy(), original.equity.to_numpy(), rtol=1e-7, atol=1e-7
    )
    np.testing.assert_allclose(
        rescaled.trades["return_pct"], original.trades["return_pct"], rtol=1e-7, atol=1e-9
    )


@given(markets(), st.integers(-4, 4))
def test_scaling_by_a_power_of_two_keeps_stops_exactly_where_they_were(
    market: tuple[pd.DataFrame, Signals], exponent: int
) -> None:
    frame, signals = market
    scaled = frame.copy()
    scaled[["open", "high", "low", "close"]] *= 2.0**exponent
    config = BacktestConfig(lot_size=1e-12, stop_loss=0.03, take_profit=0.04, trailing_stop=0.02)
    original = run_backtest(frame, signals, config)
    rescaled = run_backtest(scaled, signals, config)
    pd.testing.assert_series_equal(rescaled.trades["exit_reason"], original.trades["exit_reason"])
    np.testing.assert_array_equal(rescaled.trades["exit_bar"], original.trades["exit_bar"])
    np.testing.assert_allclose(
        rescaled.equity.to_numpy(), original.equity.to_numpy(), rtol=1e-7, atol=1e-7
    )


@given(markets(), configs)
def test_the_lean_path_computes_the_same_equity(
    market: tuple[pd.DataFrame, Signals], config: BacktestConfig
) -> None:
    frame, signals = market
    full = run_backtest(frame, signals, config)
    buffer = np.empty(len(frame))
    lean = simulate_equity(prepare_prices(frame), signals, config, out=buffer)
    assert lean is buffer
    np.testing.assert_array_equal(lean, full.equity.to_numpy())


@pytest.mark.parametrize("bars", [2, 3])
def test_the_shortest_data_runs(bars: int) -> None:
    frame = bars_from_moves([0.01] * bars, [0.0] * bars, [(0.01, 0.01)] * bars)
    result = run_backtest(frame, Signals.from_series(np.ones(bars, dtype=bool)))
    assert len(result.equity) == bars
    assert set(result.stats.index) >= {"sharpe", "n_trades"}
