"""sma_cross on GOOG against backtesting.py's SmaCross: the same crossing bars.

backtesting.py averages with ``pandas.Series.rolling(n).mean()``; sma_cross
uses TA-Lib's ``SMA``. The two round differently in the last bits, so a
strict crossover can only disagree where the two averages are equal in exact
arithmetic. GOOG's closes are whole cents, so exact ties are checked with
integer sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.indicators import sma
from quantdesk.strategies import crossed_above, crossed_below
from quantdesk.strategies.sma_cross import SmaCross

backtesting_lib = pytest.importorskip("backtesting.lib")
backtesting_test = pytest.importorskip("backtesting.test")


@pytest.fixture(scope="module")
def goog() -> pd.DataFrame:
    frame: pd.DataFrame = backtesting_test.GOOG.rename(columns=str.lower).astype(float)
    return frame


def backtesting_crossover_bars(first: np.ndarray, second: np.ndarray) -> list[int]:
    """Bars where backtesting.py's own ``crossover`` fires, called as its ``next`` would."""
    crossover: Any = backtesting_lib.crossover
    return [bar for bar in range(len(first)) if crossover(first[: bar + 1], second[: bar + 1])]


@pytest.mark.parametrize(("fast", "slow"), [(10, 20), (10, 30)], ids=["defaults", "bt-example"])
def test_sma_cross_trades_on_backtesting_pys_crossover_bars(
    goog: pd.DataFrame, fast: int, slow: int
) -> None:
    close = goog["close"]
    fast_average = backtesting_test.SMA(close, fast).to_numpy()
    slow_average = backtesting_test.SMA(close, slow).to_numpy()
    ups = backtesting_crossover_bars(fast_average, slow_average)
    downs = backtesting_crossover_bars(slow_average, fast_average)
    signals = SmaCross(fast=fast, slow=slow, short=True).signals(goog)
    assert np.flatnonzero(signals.long_entries).tolist() == ups
    assert np.flatnonzero(signals.short_exits).tolist() == ups
    assert np.flatnonzero(signals.long_exits).tolist() == downs
    assert np.flatnonzero(signals.short_entries).tolist() == downs
    assert len(ups) > 30
    assert len(downs) > 30


@pytest.mark.slow
def test_talib_and_pandas_crossovers_differ_only_at_exact_ties(goog: pd.DataFrame) -> None:
    close = goog["close"]
    cents = np.round(close.to_numpy() * 100).astype(np.int64)
    assert np.allclose(cents / 100, close.to_numpy(), rtol=0, atol=1e-9)
    periods = range(2, 61)
    talib_averages = {period: sma(goog, period).to_numpy() for period in periods}
    pandas_averages = {period: close.rolling(period).mean().to_numpy() for period in periods}
    cent_sums = {period: pd.Series(cents).rolling(period).sum().to_numpy() for period in periods}
    disagreements = 0
    for fast in range(2, 31):
        for slow in range(fast + 1, 61):
            tied = cent_sums[fast] * slow == cent_sums[slow] * fast
            touches_tie = tied | np.r_[False, tied[:-1]]
            for cross in (crossed_above, crossed_below):
                with_talib = cross(talib_averages[fast], talib_averages[slow])
                with_pandas = cross(pandas_averages[fast], pandas_averages[slow])
                differing = with_talib != with_pandas
                disagreements += int(differing.sum())
                assert not (differing & ~touches_tie).any(), (fast, slow, cross.__name__)
    # Over 870 pairs and 2,148 bars a handful of bars differ, all at exact ties.
    assert disagreements < 20
