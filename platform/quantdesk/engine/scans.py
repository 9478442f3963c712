"""Compiled single passes over long arrays: the price check and the statistics' scans.

Everything here is a numba ``@njit(cache=True)`` function named ``*_nb`` that
takes ndarrays and scalars. Each one replaces several whole-array NumPy or
pandas operations by one pass that allocates little, and computes exactly the
same values: the callers in :mod:`quantdesk.engine.runner` and
:mod:`quantdesk.engine.stats` keep the NumPy definitions for the cases a scan
does not cover.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NANOSECONDS_PER_DAY = 86_400_000_000_000
LAST_WHOLE_DAY = (np.iinfo(np.int64).max // NANOSECONDS_PER_DAY) * NANOSECONDS_PER_DAY
"""The start of the last UTC day whose end int64 nanoseconds can still hold."""


@njit(cache=True)
def prices_are_valid_nb(
    open_prices: np.ndarray,
    high_prices: np.ndarray,
    low_prices: np.ndarray,
    close_prices: np.ndarray,
    volumes: np.ndarray,
) -> bool:
    """Whether every bar passes the value checks of ``validate_ohlcv``.

    Parameters
    ----------
    open_prices, high_prices, low_prices, close_prices, volumes
        float64 columns of equal length.

    Returns
    -------
    bool
        True when every value is finite, every price is above zero, every
        volume is at least zero, and open and close lie within
        ``[low, high]`` (so ``low <= high``).
    """
    valid = True
    for i in range(close_prices.shape[0]):
        low = low_prices[i]
        high = high_prices[i]
        bar_open = open_prices[i]
        close = close_prices[i]
        volume = volumes[i]
        # Comparisons with NaN are false, so these also refuse NaN; a positive
        # low and a finite high bound every price between them.
        valid &= (
            (low > 0.0)
            & (high < np.inf)
            & (low <= bar_open)
            & (bar_open <= high)
            & (low <= close)
            & (close <= high)
            & (volume >= 0.0)
            & (volume < np.inf)
        )
    return valid


@njit(cache=True)
def last_bar_of_each_day_nb(nanoseconds: np.ndarray) -> np.ndarray:
    """The position of the last time on each UTC calendar day that has one.

    Parameters
    ----------
    nanoseconds
        Sorted int64 nanoseconds since the epoch, all before
        :data:`LAST_WHOLE_DAY`.

    Returns
    -------
    numpy.ndarray
        int64 positions, one per day, in order.
    """
    bar_count = nanoseconds.shape[0]
    positions = np.empty(bar_count, dtype=np.int64)
    if bar_count == 0:
        return positions
    day_count = 0
    next_day = (nanoseconds[0] // NANOSECONDS_PER_DAY + 1) * NANOSECONDS_PER_DAY
    for i in range(1, bar_count):
        if nanoseconds[i] >= next_day:
            positions[day_count] = i - 1
            day_count += 1
            next_day = (nanoseconds[i] // NANOSECONDS_PER_DAY + 1) * NANOSECONDS_PER_DAY
    positions[day_count] = bar_count - 1
    return positions[: day_count + 1].copy()


@njit(cache=True)
def drawdown_periods_nb(
    equity: np.ndarray, initial_cash: float
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """The deepest drawdown and every drawdown period, without the drawdown array.

    Drawdown at a bar is ``equity / peak - 1`` with the peak the highest of
    the starting cash and every equity so far. A period runs from a bar at a
    peak (drawdown 0) to the next such bar, or to the last bar, with at least
    one bar between; its depth is the lowest drawdown from its start to its
    end, both included.

    Parameters
    ----------
    equity
        float64 equity at each close, at least one value.
    initial_cash
        The starting cash, the first peak.

    Returns
    -------
    tuple
        ``(deepest, depths, starts, ends)``: the lowest drawdown (a fraction
        <= 0), then per period its depth (float64) and its first and last bar
        (int64). ``deepest`` is NaN, and the arrays empty, when a drawdown is
        NaN (NaN equity or cash, infinite equity).
    """
    bar_count = equity.shape[0]
    capacity = bar_count // 2 + 1
    depths = np.empty(capacity, dtype=np.float64)
    starts = np.empty(capacity, dtype=np.int64)
    ends = np.empty(capacity, dtype=np.int64)
    period_count = 0
    peak = initial_cash
    deepest = np.inf
    start = 0
    lowest = 0.0
    for i in range(bar_count):
        value = equity[i]
        if value > peak:
            peak = value
        drawdown = value / peak - 1.0
        if np.isnan(drawdown):
            return np.nan, depths[:0].copy(), starts[:0].copy(), ends[:0].copy()
        if drawdown < deepest:
            deepest = drawdown
        if i == 0:
            lowest = drawdown
            continue
        if drawdown < lowest:
            lowest = drawdown
        if drawdown == 0.0 or i == bar_count - 1:
            if i > start + 1:
                depths[period_count] = lowest
                starts[period_count] = start
                ends[period_count] = i
                period_count += 1
            start = i
            lowest = drawdown
    return (
        deepest,
        depths[:period_count].copy(),
        starts[:period_count].copy(),
        ends[:period_count].copy(),
    )
