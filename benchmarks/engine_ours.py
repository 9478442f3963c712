"""quantdesk's side of the engine benchmark: ``sma_cross`` through the public API.

The single run is the full path a notebook takes: ``SmaCross.signals`` (TA-Lib
SMAs and strict crossings) and ``run_backtest`` (equity curve, trades table
and statistics). The sweep is the lean path the engine offers for sweeps:
``prepare_prices`` once, each distinct SMA once, then per combination the
crossings, ``Signals`` and ``simulate`` into one reused equity buffer, the
same steps ``SmaCross._signals`` takes (:func:`check_sweep_signals` proves it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine_peers import Outcome, SignalArrays, TradingRules, distinct_windows
from quantdesk.engine import (
    BacktestConfig,
    BacktestResult,
    prepare_prices,
    run_backtest,
    simulate,
)
from quantdesk.indicators import sma
from quantdesk.strategies import Signals, crossed_above, crossed_below, get_strategy


def engine_config(rules: TradingRules) -> BacktestConfig:
    """The engine's config for the shared rules; every other field at its default.

    Parameters
    ----------
    rules
        Cash and commission.

    Returns
    -------
    BacktestConfig
        All-in whole units, next-open fills, open positions left open.
    """
    return BacktestConfig(cash=rules.cash, commission=rules.commission)


def sma_cross_signals(frame: pd.DataFrame, fast: int, slow: int) -> Signals:
    """The built-in ``sma_cross`` strategy's signals, reversing (``short=True``).

    Parameters
    ----------
    frame
        A canonical frame.
    fast, slow
        SMA windows.

    Returns
    -------
    Signals
        The strategy's signals.
    """
    return get_strategy("sma_cross", fast=fast, slow=slow, short=True).signals(frame)


def ours_sma_cross(frame: pd.DataFrame, fast: int, slow: int, rules: TradingRules) -> Outcome:
    """One full ``sma_cross`` backtest: signals, then ``run_backtest``.

    Parameters
    ----------
    frame
        A canonical frame.
    fast, slow
        SMA windows.
    rules
        Cash and commission.

    Returns
    -------
    Outcome
        Closed trades and final equity.
    """
    result = run_backtest(frame, sma_cross_signals(frame, fast, slow), engine_config(rules))
    return _outcome(result)


def ours_simulate(frame: pd.DataFrame, signals: SignalArrays, rules: TradingRules) -> Outcome:
    """Run given signals through ``run_backtest``.

    Parameters
    ----------
    frame
        A canonical frame.
    signals
        Signals decided on each bar's close.
    rules
        Cash and commission.

    Returns
    -------
    Outcome
        Closed trades and final equity.
    """
    result = run_backtest(frame, to_engine_signals(signals), engine_config(rules))
    return _outcome(result)


def _outcome(result: BacktestResult) -> Outcome:
    """Closed trades and ``stats["final_equity"]`` of a result."""
    final = result.stats["final_equity"]
    if not isinstance(final, float | int):
        raise TypeError(f"stats['final_equity'] is {type(final).__name__}, expected a number")
    return Outcome(trades=len(result.trades), final_equity=float(final))


def to_engine_signals(signals: SignalArrays) -> Signals:
    """The engine's ``Signals`` for plain arrays.

    Parameters
    ----------
    signals
        Signals decided on each bar's close.

    Returns
    -------
    Signals
        The same four arrays.
    """
    return Signals(
        long_entries=signals.long_entries,
        long_exits=signals.long_exits,
        short_entries=signals.short_entries,
        short_exits=signals.short_exits,
    )


def from_engine_signals(signals: Signals) -> SignalArrays:
    """Plain arrays for the engine's ``Signals``, to hand to the peers.

    Parameters
    ----------
    signals
        The engine's signals (no stops or time exits).

    Returns
    -------
    SignalArrays
        The same four arrays.
    """
    return SignalArrays(
        signals.long_entries, signals.long_exits, signals.short_entries, signals.short_exits
    )


def _sweep_signals(fast_average: np.ndarray, slow_average: np.ndarray) -> Signals:
    """What ``SmaCross._signals`` builds with ``short=True``, from precomputed averages."""
    cross_up = crossed_above(fast_average, slow_average)
    cross_down = crossed_below(fast_average, slow_average)
    return Signals(
        long_entries=cross_up,
        long_exits=cross_down,
        short_entries=cross_down.copy(),
        short_exits=cross_up.copy(),
    )


def sweep_averages(frame: pd.DataFrame, windows: Sequence[int]) -> dict[int, np.ndarray]:
    """Each window's SMA of the close, computed once (TA-Lib, as ``sma_cross`` does).

    Parameters
    ----------
    frame
        A canonical frame.
    windows
        The distinct windows.

    Returns
    -------
    dict
        Window to float64 array.
    """
    return {window: sma(frame, window).to_numpy() for window in windows}


def check_sweep_signals(frame: pd.DataFrame, combinations: Sequence[tuple[int, int]]) -> None:
    """Fail unless the sweep's signals equal ``sma_cross``'s own for these combinations.

    Parameters
    ----------
    frame
        A canonical frame.
    combinations
        (fast, slow) pairs to compare.

    Raises
    ------
    AssertionError
        When any of the four arrays differs.
    """
    averages = sweep_averages(frame, distinct_windows(combinations))
    for fast, slow in combinations:
        mine = _sweep_signals(averages[fast], averages[slow])
        theirs = sma_cross_signals(frame, fast, slow)
        for name in ("long_entries", "long_exits", "short_entries", "short_exits"):
            if not np.array_equal(getattr(mine, name), getattr(theirs, name)):
                raise AssertionError(
                    f"sweep signals differ from sma_cross's: {name}, {fast}/{slow}"
                )


def ours_sweep(
    frame: pd.DataFrame, combinations: Sequence[tuple[int, int]], rules: TradingRules
) -> tuple[np.ndarray, np.ndarray]:
    """The sweep on the engine's lean path.

    Parameters
    ----------
    frame
        A canonical frame.
    combinations
        (fast, slow) pairs.
    rules
        Cash and commission.

    Returns
    -------
    tuple of numpy.ndarray
        Final equity and closed-trade count per combination, in order.
    """
    config = engine_config(rules)
    prices = prepare_prices(frame)
    averages = sweep_averages(frame, distinct_windows(combinations))
    equity = np.empty(len(prices), dtype=np.float64)
    final_equities = np.empty(len(combinations), dtype=np.float64)
    trade_counts = np.empty(len(combinations), dtype=np.int64)
    for number, (fast, slow) in enumerate(combinations):
        run = simulate(
            prices, _sweep_signals(averages[fast], averages[slow]), config, equity_out=equity
        )
        final_equities[number] = run.equity[-1]
        trade_counts[number] = len(run.trade_records)
    return final_equities, trade_counts
