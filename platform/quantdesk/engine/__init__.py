"""The backtest engine: a compiled simulation kernel behind a thin pandas layer.

:func:`run_backtest` takes a canonical OHLCV frame and a strategy's
:class:`~quantdesk.strategies.signals.Signals` and returns a
:class:`BacktestResult`. Its default fill model is backtesting.py's: orders
decided on a bar's close fill at the next bar's open, commission is charged at
entry and at exit, and an all-in entry buys the largest whole number of lots
the equity pays for; see :mod:`quantdesk.engine.kernel` for every rule.

For parameter sweeps over long data, check the bars once with
:func:`prepare_prices` and run :func:`simulate_equity` or
:func:`final_equity` per combination: they share the kernel and build no
DataFrames. The kernel itself, :func:`quantdesk.engine.kernel.simulate_nb`,
takes plain arrays in named structures (``PriceArrays``, ``SignalArrays``,
``TradingRules``; see :func:`~quantdesk.engine.runner.trading_rules`).
"""

from __future__ import annotations

from quantdesk.engine.config import BacktestConfig
from quantdesk.engine.kernel import EXIT_REASONS
from quantdesk.engine.result import (
    ENGINE_VERSION,
    TRADE_COLUMNS,
    BacktestResult,
    OpenPosition,
    data_fingerprint,
)
from quantdesk.engine.runner import (
    PreparedPrices,
    Simulation,
    final_equity,
    prepare_prices,
    run_backtest,
    simulate,
    simulate_equity,
    simulation_statistics,
)
from quantdesk.engine.stats import STAT_KEYS, ranking_value

__all__ = [
    "ENGINE_VERSION",
    "EXIT_REASONS",
    "STAT_KEYS",
    "TRADE_COLUMNS",
    "BacktestConfig",
    "BacktestResult",
    "OpenPosition",
    "PreparedPrices",
    "Simulation",
    "data_fingerprint",
    "final_equity",
    "prepare_prices",
    "ranking_value",
    "run_backtest",
    "simulate",
    "simulate_equity",
    "simulation_statistics",
]
