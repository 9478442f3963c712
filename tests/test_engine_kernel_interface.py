"""The kernel's interface: a few named structures, so arguments cannot be swapped silently."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from numba.core.errors import TypingError

from quantdesk.engine import BacktestConfig, kernel, run_backtest
from quantdesk.engine.runner import prepare_prices, simulate, trading_rules
from tests.test_engine_fills import STEPS, signals


def structures(config: BacktestConfig) -> tuple[kernel.PriceArrays, kernel.SignalArrays]:
    none = np.empty(0, dtype=np.float64)
    bars = len(STEPS)
    entries = np.zeros(bars, dtype=bool)
    entries[[1, 6]] = True
    exits = np.zeros(bars, dtype=bool)
    exits[4] = True
    prices = kernel.PriceArrays(
        open=STEPS["open"].to_numpy(),
        high=STEPS["high"].to_numpy(),
        low=STEPS["low"].to_numpy(),
        close=STEPS["close"].to_numpy(),
    )
    flags = np.zeros(bars, dtype=bool)
    signal_arrays = kernel.SignalArrays(
        long_entries=entries,
        long_exits=exits,
        short_entries=flags,
        short_exits=flags,
        distances=kernel.ProtectiveDistances(stop=none, target=none, trailing=none),
        maximum_bars_held=0,
    )
    return prices, signal_arrays


def test_the_kernel_takes_three_structures_and_two_buffers() -> None:
    parameters = inspect.signature(kernel.simulate_nb.py_func).parameters
    assert list(parameters) == ["prices", "signals", "rules", "equity_out", "trade_records"]
    fill_parameters = inspect.signature(kernel._fill_orders_nb.py_func).parameters
    assert len(fill_parameters) <= 7


def test_every_field_of_the_rules_must_be_named() -> None:
    with pytest.raises(TypeError, match="missing"):
        kernel.TradingRules(10_000.0, 0.001)  # type: ignore[call-arg]


def test_swapped_structures_do_not_compile() -> None:
    config = BacktestConfig()
    prices, signal_arrays = structures(config)
    equity = np.empty(len(STEPS))
    records = np.empty((2, kernel.TRADE_RECORD_WIDTH))
    with pytest.raises(TypingError):
        kernel.simulate_nb(signal_arrays, prices, trading_rules(config), equity, records)


def test_the_kernel_called_directly_agrees_with_the_runner() -> None:
    config = BacktestConfig(commission=0.001, stop_loss=0.02)
    prices, signal_arrays = structures(config)
    equity = np.empty(len(STEPS))
    records = np.empty((2, kernel.TRADE_RECORD_WIDTH))
    account = kernel.simulate_nb(prices, signal_arrays, trading_rules(config), equity, records)

    result = run_backtest(STEPS, signals(len(STEPS), long_entries=[1, 6], long_exits=[4]), config)
    assert isinstance(account, kernel.AccountState)
    assert account.trade_count == len(result.trades)
    np.testing.assert_array_equal(equity, result.equity.to_numpy())


def test_whole_number_settings_run_the_same_compiled_kernel() -> None:
    prices = prepare_prices(STEPS)
    entries = signals(len(STEPS), long_entries=[1])
    simulate(prices, entries, BacktestConfig(cash=10_000.0, lot_size=1.0))
    compiled = len(kernel.simulate_nb.signatures)
    simulate(prices, entries, BacktestConfig(cash=10_000, lot_size=1, fixed_fee=2, margin=1))
    assert len(kernel.simulate_nb.signatures) == compiled
