"""Backtest statistics: one small documented function per metric.

Percentages are in percent (``12.5`` is 12.5 %), drawdowns are negative.
Drawdown and trade statistics follow backtesting.py's definitions; where
they differ, the docstring says how.
Trade statistics cover closed trades only; a position still open at the end
counts in ``exposure_pct`` and ``commissions`` but not in the trade figures.

Return periods. The return-based figures use simple returns of the last
equity in each calendar day (UTC), or in each week, month or year when the
bars are that long, and ``N = periods_per_year`` of them make a year: 52 for
weekly bars, 12 for monthly ones, else 365 when the data trades at weekends
(crypto) and 252 when it does not (stocks).

Risk-free rate. ``risk_free_rate`` is an annual rate (``0.04`` is 4 % a
year, default 0). Per period it is the rate that compounds to it over a
year, ``r_f = (1 + risk_free_rate) ** (1 / N) - 1``; excess returns are
``r - r_f``.

The ratios researchers expect:

- ``sharpe``: ``mean(r - r_f) / std(r - r_f) * sqrt(N)``, the sample
  standard deviation (``ddof=1``); NaN with fewer than two returns or when
  they never vary.
- ``sortino``: ``mean(r - r_f) / DD * sqrt(N)`` with the downside deviation
  ``DD = sqrt(mean(min(r - r_f, 0) ** 2))`` over every period (the target is
  the risk-free rate); infinite when no period falls below it and the mean is
  positive, NaN when none does and it is not.
- ``volatility_ann_pct``: ``std(r) * sqrt(N)``, the Sharpe ratio's
  denominator.
- ``cagr_pct``: ``(final equity / starting cash) ** (1 / years) - 1``, years
  being the time from the first bar to the last over 365.25 days.
- ``calmar``: CAGR over the depth of the maximum drawdown, both fractions.

backtesting.py's definitions are kept under their own names, so results can
be checked against it: ``return_ann_pct`` (the geometric mean period return
compounded over ``N`` periods), ``volatility_ann_backtesting_py_pct`` (the
spread of a year of compounded periods), ``sharpe_backtesting_py``
(``return_ann_pct`` less the risk-free rate, over that volatility),
``sortino_backtesting_py`` (the same numerator over the downside deviation
below zero times ``sqrt(N)``) and ``calmar_backtesting_py``
(``return_ann_pct`` over the maximum drawdown).

Ruin. A run whose equity reaches zero or below on any bar is ruined: an
account at zero cannot trade on, whatever the simulation did afterwards
(there is no margin model). Its ``total_return_pct``, ``return_ann_pct``
and ``cagr_pct`` are -100 and every ratio (``sharpe``, ``sortino``,
``calmar`` and their backtesting.py variants) is ``-inf``, so sorting by any
of them in descending order puts it after every run that survived. Its
returns and volatilities are measured on the equity up to the first bar at
or below zero, that bar counted as zero, so the last period return is -100 %.
``final_equity`` and the drawdowns stay as simulated.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantdesk.engine.scans import (
    LAST_WHOLE_DAY,
    NANOSECONDS_PER_DAY,
    drawdown_periods_nb,
    last_bar_of_each_day_nb,
)
from quantdesk.errors import InvalidInputError

StatValue = float | int | pd.Timedelta

RATIO_KEYS: tuple[str, ...] = (
    "sharpe",
    "sortino",
    "calmar",
    "sharpe_backtesting_py",
    "sortino_backtesting_py",
    "calmar_backtesting_py",
)
"""The ratios; ``-inf`` for a ruined run."""

RETURN_STAT_KEYS: tuple[str, ...] = (
    "total_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "cagr_pct",
    "sharpe",
    "sortino",
    "calmar",
    "volatility_ann_backtesting_py_pct",
    "sharpe_backtesting_py",
    "sortino_backtesting_py",
    "calmar_backtesting_py",
)
"""The statistics :func:`return_statistics` computes from the equity alone."""

STAT_KEYS: tuple[str, ...] = (
    "final_equity",
    RETURN_STAT_KEYS[0],
    "buy_hold_return_pct",
    *RETURN_STAT_KEYS[1:],
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration",
    "exposure_pct",
    "n_trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "commissions",
)
"""The keys of ``BacktestResult.stats``, in order; they are stable."""

_WEEKEND_SHARE_OF_A_WEEK_TRADING_EVERY_DAY = 2 / 7
_EPOCH_WEEKDAY = 3
"""1970-01-01 was a Thursday; Monday is 0, as in pandas' ``day_of_week``."""
_SATURDAY = 5
_DAYS_PER_YEAR = 365.25
_SHORTEST_MONTH_DAYS = 28
_LONGEST_MONTH_DAYS = 31


def drawdown_fraction(equity: np.ndarray, initial_cash: float) -> np.ndarray:
    """Drawdown at each bar as a fraction at or below zero.

    ``equity / peak - 1``, where the peak is the highest of the starting cash
    and every equity value so far: ``-0.25`` is 25 % below the peak.

    Parameters
    ----------
    equity
        Equity at each close.
    initial_cash
        The starting cash, the first peak.

    Returns
    -------
    numpy.ndarray
        One value per bar, ``<= 0``.
    """
    peak = np.maximum(np.maximum.accumulate(equity), initial_cash)
    return np.asarray(equity / peak - 1.0, dtype=np.float64)


def final_equity(equity: np.ndarray) -> float:
    """Equity at the last close, an open position marked to that close."""
    return float(equity[-1])


def total_return_pct(equity: np.ndarray, initial_cash: float) -> float:
    """``(final equity - starting cash) / starting cash``, in percent.

    backtesting.py divides by the first bar's equity, which is the starting
    cash unless a trade fills on the first bar's close.
    """
    return float((equity[-1] - initial_cash) / initial_cash * 100.0)


def buy_hold_return_pct(close: np.ndarray) -> float:
    """The return of holding the asset from the first close to the last, in percent.

    backtesting.py starts at the first bar after its strategy's indicator
    warm-up; the engine does not know the warm-up, so this starts at bar 0.
    """
    return float((close[-1] - close[0]) / close[0] * 100.0)


def annualisation(index: pd.DatetimeIndex) -> tuple[str, float]:
    """The return period of the data and how many of them make a year.

    The bar spacing is the median of the last hundred gaps (as in
    backtesting.py). Seven-day bars give weekly returns and 52 per year,
    28- to 31-day bars monthly returns and 12 (a few months may have a
    median spacing of 30 or 29 days), 365-day bars yearly returns and 1;
    anything else gives daily returns, 365 per year when Saturdays and Sundays
    hold more than 60 % of the two sevenths of the bars they hold in data that
    trades every day (24/7 markets), else 252.

    Parameters
    ----------
    index
        The bars' times.

    Returns
    -------
    tuple[str, float]
        A pandas resampling rule and the periods per year.
    """
    tail = index[-101:].as_unit("ns").asi8
    day = pd.Timedelta(days=1).value
    spacing_days = int(np.median(np.diff(tail)) // day) if len(tail) > 1 else 0
    if spacing_days == 7:
        return "W", 52.0
    if _SHORTEST_MONTH_DAYS <= spacing_days <= _LONGEST_MONTH_DAYS:
        return "ME", 12.0
    if spacing_days == 365:
        return "YE", 1.0
    weekend_share = _weekend_share(index)
    trades_at_weekends = weekend_share > _WEEKEND_SHARE_OF_A_WEEK_TRADING_EVERY_DAY * 0.6
    return "D", 365.0 if trades_at_weekends else 252.0


@dataclass(frozen=True, eq=False)
class Calendar:
    """What the statistics read off the bars' times, worked out once for many runs.

    Build it with :func:`bar_calendar`; a sweep makes one per chunk and
    passes it to :func:`compute_statistics` for every combination.

    Attributes
    ----------
    index
        The bars' times.
    rule, periods_per_year
        From :func:`annualisation`.
    day_ends
        The last bar of each UTC day, when ``rule`` is daily and the days can
        be read off the index directly; None otherwise.
    nanoseconds
        The times as int64 nanoseconds.
    """

    index: pd.DatetimeIndex
    rule: str
    periods_per_year: float
    day_ends: np.ndarray | None
    nanoseconds: np.ndarray


def bar_calendar(index: pd.DatetimeIndex) -> Calendar:
    """The return periods and day ends of the bars' times, for :func:`compute_statistics`.

    Parameters
    ----------
    index
        The bars' times.

    Returns
    -------
    Calendar
        The annualisation, each day's last bar and the times in nanoseconds.
    """
    index = pd.DatetimeIndex(index)
    rule, periods = annualisation(index)
    days = _last_bar_of_each_day(index) if rule == "D" else None
    return Calendar(
        index=index,
        rule=rule,
        periods_per_year=periods,
        day_ends=None if days is None else days[0],
        nanoseconds=index.asi8 if index.unit == "ns" else index.as_unit("ns").asi8,
    )


def measured_returns(equity: np.ndarray, calendar: Calendar) -> np.ndarray:
    """The period returns the return statistics are measured on, ruin included.

    The simple returns of :func:`period_returns`; for a ruined run (equity at
    or below zero on some bar), those of the equity up to the first such bar,
    that bar counted as zero (see the module docstring).

    Parameters
    ----------
    equity
        Equity at each close.
    calendar
        From :func:`bar_calendar` for the bars' times.

    Returns
    -------
    numpy.ndarray
        One return per period after the first.
    """
    ruin_bar = _ruin_bar(equity)
    if ruin_bar is not None:
        until_ruin = equity[: ruin_bar + 1].copy()
        until_ruin[-1] = 0.0
        return period_returns(
            pd.Series(until_ruin, index=calendar.index[: len(until_ruin)]), calendar.rule
        )
    if calendar.day_ends is not None:
        last = equity[calendar.day_ends]
        if not np.isnan(last).any():
            return np.asarray(last[1:] / last[:-1] - 1.0, dtype=np.float64)
    return period_returns(pd.Series(equity, index=calendar.index, copy=False), calendar.rule)


def period_returns(equity: pd.Series, rule: str) -> np.ndarray:
    """Simple returns of the last equity in each calendar period that has bars.

    Parameters
    ----------
    equity
        Equity on a ``DatetimeIndex``.
    rule
        A pandas resampling rule from :func:`annualisation`.

    Returns
    -------
    numpy.ndarray
        One return per period after the first.
    """
    last = _last_of_each_day(equity) if rule == "D" else None
    if last is None:
        last = equity.resample(rule).last().dropna().to_numpy(dtype=np.float64)
    return np.asarray(last[1:] / last[:-1] - 1.0, dtype=np.float64)


def _last_bar_of_each_day(index: pd.Index) -> tuple[np.ndarray, np.ndarray] | None:
    """Each UTC calendar day's last bar: its position and its time.

    None unless the index holds sorted UTC (or naive) times without NaT, as
    canonical frames do; in another zone a day starts at local midnight.
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        return None
    if index.tz is not None and str(index.tz) != "UTC":
        return None
    if index.hasnans or not index.is_monotonic_increasing:
        return None
    nanoseconds = np.ascontiguousarray(
        index.asi8 if index.unit == "ns" else index.as_unit("ns").asi8
    )
    if nanoseconds[-1] >= LAST_WHOLE_DAY:
        return None
    positions = last_bar_of_each_day_nb(nanoseconds)
    return positions, nanoseconds[positions]


def _weekend_share(index: pd.DatetimeIndex) -> float:
    """The share of bars on a Saturday or Sunday, as ``np.mean(index.day_of_week >= 5)``."""
    days = _last_bar_of_each_day(index)
    if days is None:
        return float(np.mean(index.day_of_week >= 5))
    positions, times = days
    bars_per_day = np.diff(positions, prepend=-1)
    weekday = (times // NANOSECONDS_PER_DAY + _EPOCH_WEEKDAY) % 7
    return int(bars_per_day[weekday >= _SATURDAY].sum()) / len(index)


def _last_of_each_day(equity: pd.Series) -> np.ndarray | None:
    """The last equity of each UTC day with bars, as ``resample("D").last().dropna()``.

    None when the days cannot be read off the index directly, or when a day's
    last value is NaN (``last`` would skip it); the caller then resamples.
    """
    days = _last_bar_of_each_day(equity.index)
    if days is None:
        return None
    last = equity.to_numpy(dtype=np.float64)[days[0]]
    return None if np.isnan(last).any() else last


def geometric_mean(returns: np.ndarray) -> float:
    """The per-period return that compounds to the same total.

    NaN returns count as 0; -1 (all is lost) when any return is <= -100 %,
    since the product of the growth factors is then zero; NaN without returns.
    """
    growth = np.nan_to_num(returns, nan=0.0) + 1.0
    if len(growth) == 0:
        return math.nan
    if np.any(growth <= 0.0):
        return -1.0
    return float(np.exp(np.log(growth).sum() / len(growth)) - 1.0)


def risk_free_per_period(risk_free_rate: float, periods_per_year: float) -> float:
    """The per-period rate that compounds to the annual ``risk_free_rate`` over a year."""
    return float((1.0 + risk_free_rate) ** (1.0 / periods_per_year) - 1.0)


def return_ann_pct(returns: np.ndarray, periods_per_year: float) -> float:
    """The geometric mean period return compounded over a year, in percent (backtesting.py's)."""
    mean = geometric_mean(returns)
    return float(((1.0 + mean) ** periods_per_year - 1.0) * 100.0) if len(returns) else 0.0


def volatility_ann_pct(returns: np.ndarray, periods_per_year: float) -> float:
    """``std(returns) * sqrt(periods_per_year)``, in percent; NaN with fewer than two.

    The standard deviation is the sample one (``ddof=1``).
    """
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns, ddof=1) * math.sqrt(periods_per_year) * 100.0)


def volatility_ann_backtesting_py_pct(returns: np.ndarray, periods_per_year: float) -> float:
    """The annual standard deviation of compounded returns, in percent, as backtesting.py's.

    For period returns with mean ``m`` (geometric) and variance ``v``
    (sample), ``sqrt((v + (1 + m)^2)^N - (1 + m)^(2N))`` with ``N`` periods:
    the spread of a year of independent periods, compounded.
    """
    if len(returns) < 2:
        return math.nan
    mean = geometric_mean(returns)
    variance = float(np.var(returns, ddof=1))
    growth = 1.0 + mean
    annual_variance = (variance + growth**2) ** periods_per_year - growth ** (2 * periods_per_year)
    return float(math.sqrt(max(annual_variance, 0.0)) * 100.0)


def cagr_pct(equity: np.ndarray, initial_cash: float, duration: pd.Timedelta) -> float:
    """Compound annual growth rate over the calendar span of the data, in percent.

    ``(final equity / starting cash) ** (1 / years) - 1`` with years the time
    from the first bar to the last over 365.25 days; -100 when the final
    equity is zero or below, NaN over no time.
    """
    years = duration.total_seconds() / 86_400 / _DAYS_PER_YEAR
    if years <= 0:
        return math.nan
    ratio = float(equity[-1] / initial_cash)
    if ratio <= 0:
        return -100.0
    return float((ratio ** (1.0 / years) - 1.0) * 100.0)


def sharpe(returns: np.ndarray, periods_per_year: float, risk_free_rate: float = 0.0) -> float:
    """``mean(excess) / std(excess) * sqrt(periods_per_year)``, excess returns per period.

    Excess returns are ``returns - r_f`` with ``r_f`` from
    :func:`risk_free_per_period`; the standard deviation is the sample one.
    NaN with fewer than two returns or when they never vary.
    """
    if len(returns) < 2:
        return math.nan
    excess = returns - risk_free_per_period(risk_free_rate, periods_per_year)
    deviation = float(np.std(excess, ddof=1))
    if deviation == 0.0:
        return math.nan
    return float(np.mean(excess)) / deviation * math.sqrt(periods_per_year)


def sortino(returns: np.ndarray, periods_per_year: float, risk_free_rate: float = 0.0) -> float:
    """``mean(excess) / downside deviation * sqrt(periods_per_year)``, both per period.

    The downside deviation is ``sqrt(mean(min(excess, 0) ** 2))`` over every
    period, the target being the risk-free rate. Infinite when no period falls
    below it and the mean excess is positive; NaN when none does and it is
    not, or without returns.
    """
    if len(returns) == 0:
        return math.nan
    excess = returns - risk_free_per_period(risk_free_rate, periods_per_year)
    mean = float(np.mean(excess))
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0.0:
        return math.inf if mean > 0 else math.nan
    return mean / downside * math.sqrt(periods_per_year)


def calmar(cagr: float, max_drawdown: float) -> float:
    """CAGR over the maximum drawdown's depth, both fractions; NaN without a drawdown."""
    return cagr / abs(max_drawdown) if max_drawdown else math.nan


def sharpe_backtesting_py(
    return_ann: float, volatility_ann: float, risk_free_rate: float = 0.0
) -> float:
    """backtesting.py's Sharpe ratio: annual return less the risk-free rate over volatility.

    ``return_ann`` is :func:`return_ann_pct`, ``volatility_ann``
    :func:`volatility_ann_backtesting_py_pct`, both in percent; NaN when flat.
    """
    if not volatility_ann:
        return math.nan
    return (return_ann - risk_free_rate * 100.0) / volatility_ann


def sortino_backtesting_py(
    returns: np.ndarray, periods_per_year: float, risk_free_rate: float = 0.0
) -> float:
    """backtesting.py's Sortino ratio: compounded annual excess return over a sqrt(N) deviation.

    The numerator is :func:`return_ann_pct` (a fraction) less the annual
    risk-free rate; the denominator the root mean square of the period
    returns below zero (others count as zero) times ``sqrt(periods_per_year)``.
    Infinite when no period lost and the numerator is positive.
    """
    if len(returns) == 0:
        return math.nan
    annual_excess = return_ann_pct(returns, periods_per_year) / 100.0 - risk_free_rate
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2))) * math.sqrt(
        periods_per_year
    )
    if downside == 0.0:
        return math.inf if annual_excess > 0 else math.nan
    return annual_excess / downside


def calmar_backtesting_py(return_ann: float, max_drawdown: float) -> float:
    """backtesting.py's Calmar ratio: :func:`return_ann_pct` over the maximum drawdown's depth.

    Both fractions; NaN without a drawdown.
    """
    return return_ann / abs(max_drawdown) if max_drawdown else math.nan


def max_drawdown_pct(drawdown: np.ndarray) -> float:
    """The deepest drawdown, in percent (negative, 0 without one)."""
    return float(np.min(drawdown) * 100.0) + 0.0


def drawdown_periods(
    drawdown: np.ndarray, index: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """Each drawdown's depth and length, as backtesting.py delimits them.

    A drawdown runs from a bar at a peak (drawdown 0) to the next bar at a
    peak, or to the last bar, with at least one bar below the peak between.

    Parameters
    ----------
    drawdown
        From :func:`drawdown_fraction`.
    index
        The bars' times.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        Depths (fractions <= 0, the lowest value including both ends) and
        durations (``timedelta64[ns]``, end time minus start time).
    """
    last = len(drawdown) - 1
    bounds = np.unique(np.r_[0, np.flatnonzero(drawdown == 0.0), last])
    lowest_from = np.minimum.reduceat(drawdown, bounds)
    starts, ends = bounds[:-1], bounds[1:]
    depths = np.minimum(lowest_from[:-1], drawdown[ends])
    is_drawdown = ends > starts + 1
    times = index.as_unit("ns").asi8
    durations = (times[ends] - times[starts]).astype("timedelta64[ns]")
    return depths[is_drawdown], durations[is_drawdown]


def avg_drawdown_pct(depths: np.ndarray) -> float:
    """The mean depth of the drawdowns, in percent (negative, 0 without one)."""
    return float(np.mean(depths) * 100.0) + 0.0 if len(depths) else 0.0


def max_drawdown_duration(durations: np.ndarray) -> pd.Timedelta:
    """The longest time from a peak to the next peak (or the end); 0 without a drawdown."""
    return pd.Timedelta(durations.max()) if len(durations) else pd.Timedelta(0)


def exposure_pct(entry_bars: np.ndarray, exit_bars: np.ndarray, bar_count: int) -> float:
    """The share of bars on which a position was held, entry and exit bars included, in %.

    backtesting.py counts closed trades only; here a position still open at
    the end counts too (pass its entry bar and the last bar).
    """
    if bar_count == 0:
        return math.nan
    if len(entry_bars) == 0:
        return 0.0
    # Merge the [entry, exit] spans in order of entry and count the bars they cover.
    order = np.argsort(entry_bars, kind="stable")
    starts = entry_bars[order]
    reach = np.maximum.accumulate(exit_bars[order])
    opens_block = np.r_[True, starts[1:] > reach[:-1]]
    closes_block = np.r_[opens_block[1:], True]
    held = int((reach[closes_block] - starts[opens_block] + 1).sum())
    return float(held / bar_count * 100.0)


def win_rate_pct(pnl: np.ndarray) -> float:
    """The share of closed trades with a positive profit, in percent; NaN without trades."""
    return float(np.mean(pnl > 0) * 100.0) if len(pnl) else math.nan


def best_trade_pct(returns_pct: np.ndarray) -> float:
    """The highest closed-trade return, in percent; NaN without trades."""
    return float(np.max(returns_pct)) if len(returns_pct) else math.nan


def worst_trade_pct(returns_pct: np.ndarray) -> float:
    """The lowest closed-trade return, in percent; NaN without trades."""
    return float(np.min(returns_pct)) if len(returns_pct) else math.nan


def avg_trade_pct(returns_pct: np.ndarray) -> float:
    """The geometric mean of the closed-trade returns, in percent; NaN without trades.

    -100 when a trade lost all of its entry value or more (backtesting.py
    reports 0 then).
    """
    return geometric_mean(returns_pct / 100.0) * 100.0


def profit_factor(returns_pct: np.ndarray) -> float:
    """The sum of winning trades' returns over the absolute sum of losing ones.

    Computed on trade returns, as backtesting.py does, so it is not swayed by
    position sizes growing with equity. Infinite with wins and no loss, NaN
    with neither.
    """
    gains = float(returns_pct[returns_pct > 0].sum())
    losses = abs(float(returns_pct[returns_pct < 0].sum()))
    if losses == 0.0:
        return math.inf if gains > 0 else math.nan
    return gains / losses


def expectancy_pct(returns_pct: np.ndarray) -> float:
    """The arithmetic mean closed-trade return, in percent; NaN without trades."""
    return float(np.mean(returns_pct)) if len(returns_pct) else math.nan


def sqn(pnl: np.ndarray) -> float:
    """System quality number: ``sqrt(n) * mean(pnl) / std(pnl)`` over closed trades.

    The standard deviation is the sample one; NaN with fewer than two trades
    or when every profit is the same.
    """
    if len(pnl) < 2:
        return math.nan
    deviation = float(np.std(pnl, ddof=1))
    return math.sqrt(len(pnl)) * float(np.mean(pnl)) / deviation if deviation else math.nan


def commissions(trade_commissions: np.ndarray, open_commission: float) -> float:
    """Every commission and fee paid: closed trades' entries and exits and the open entry.

    backtesting.py leaves out the entry commission of a position still open.
    """
    return float(trade_commissions.sum()) + open_commission


def compute_statistics(
    *,
    equity: pd.Series | np.ndarray,
    trades: pd.DataFrame | Mapping[str, np.ndarray],
    close: np.ndarray,
    initial_cash: float,
    open_entry_bar: int | None,
    open_commission: float,
    periods_per_year: float | None,
    risk_free_rate: float = 0.0,
    calendar: Calendar | None = None,
) -> dict[str, StatValue]:
    """Every statistic of :data:`STAT_KEYS` for one backtest.

    Parameters
    ----------
    equity
        Equity at each close, on the bars' ``DatetimeIndex``; a plain array
        when ``calendar`` is given.
    trades
        The closed trades, as ``BacktestResult.trades``, or at least its
        ``entry_bar``, ``exit_bar``, ``pnl``, ``return_pct`` and
        ``commission`` columns as arrays (see
        :func:`quantdesk.engine.result.trade_columns`).
    close
        The bars' closes.
    initial_cash
        The starting cash.
    open_entry_bar
        The entry bar of the position open at the end, or None.
    open_commission
        That position's entry commission, 0 without one.
    periods_per_year
        Overrides the detected return periods per year.
    risk_free_rate
        The annual risk-free rate, e.g. ``0.04``.
    calendar
        :func:`bar_calendar` of the bars' times, when the caller made it
        once for many runs; worked out from the equity's index otherwise.

    Returns
    -------
    dict
        The statistics in :data:`STAT_KEYS` order; floats, ``n_trades`` an
        int and ``max_drawdown_duration`` a ``pandas.Timedelta``.
    """
    if calendar is None:
        if not isinstance(equity, pd.Series):
            raise InvalidInputError(
                "equity must be a Series on the bars' times unless a calendar is given"
            )
        calendar = bar_calendar(pd.DatetimeIndex(equity.index))
    values = np.asarray(equity, dtype=np.float64)
    deepest, depths, durations = _drawdown_summary(values, initial_cash, calendar)
    by_returns = return_statistics(
        values,
        initial_cash=initial_cash,
        max_drawdown=deepest,
        periods_per_year=periods_per_year,
        risk_free_rate=risk_free_rate,
        calendar=calendar,
    )

    entry_bars = np.asarray(trades["entry_bar"], dtype=np.int64)
    exit_bars = np.asarray(trades["exit_bar"], dtype=np.int64)
    if open_entry_bar is not None:
        entry_bars = np.r_[entry_bars, open_entry_bar]
        exit_bars = np.r_[exit_bars, len(values) - 1]
    pnl = np.asarray(trades["pnl"], dtype=np.float64)
    trade_returns = np.asarray(trades["return_pct"], dtype=np.float64)

    statistics: dict[str, StatValue] = {
        "final_equity": final_equity(values),
        "buy_hold_return_pct": buy_hold_return_pct(close),
        **by_returns,
        "max_drawdown_pct": deepest,
        "avg_drawdown_pct": avg_drawdown_pct(depths),
        "max_drawdown_duration": max_drawdown_duration(durations),
        "exposure_pct": exposure_pct(entry_bars, exit_bars, len(values)),
        "n_trades": len(pnl),
        "win_rate_pct": win_rate_pct(pnl),
        "best_trade_pct": best_trade_pct(trade_returns),
        "worst_trade_pct": worst_trade_pct(trade_returns),
        "avg_trade_pct": avg_trade_pct(trade_returns),
        "profit_factor": profit_factor(trade_returns),
        "expectancy_pct": expectancy_pct(trade_returns),
        "sqn": sqn(pnl),
        "commissions": commissions(
            np.asarray(trades["commission"], dtype=np.float64), open_commission
        ),
    }
    return {key: statistics[key] for key in STAT_KEYS}


def statistics_series(statistics: Mapping[str, StatValue]) -> pd.Series:
    """Statistics as ``BacktestResult.stats`` holds them: a Series that reads like a dict.

    Parameters
    ----------
    statistics
        The statistics by name, in order (as :func:`compute_statistics` gives them).

    Returns
    -------
    pandas.Series
        Of object dtype, so each value keeps its type (``n_trades`` an int,
        ``max_drawdown_duration`` a ``pandas.Timedelta``), indexed by the
        names in order. It has no name, so ``pandas.DataFrame([result.stats
        for result in results])`` numbers its rows.
    """
    return pd.Series(
        list(statistics.values()), index=pd.Index(list(statistics), dtype=object), dtype=object
    )


def ranking_value(value: float) -> float:
    """A statistic as a key for best-first sorting, where ruin always comes last.

    A ruined run's ratios are ``-inf``; an undefined one (NaN, e.g. a run
    that never traded) becomes the lowest finite float, just above ruin.
    ``sorted(results, key=lambda r: ranking_value(r.stats["sharpe"]), reverse=True)``
    ranks best first; with pandas, ``sort_values("sharpe", ascending=False,
    key=lambda column: column.map(ranking_value))``.
    """
    return -sys.float_info.max if math.isnan(value) else float(value)


def return_statistics(
    equity: pd.Series | np.ndarray,
    *,
    initial_cash: float,
    max_drawdown: float,
    periods_per_year: float | None,
    risk_free_rate: float = 0.0,
    calendar: Calendar | None = None,
) -> dict[str, float]:
    """The statistics of :data:`RETURN_STAT_KEYS`, ruin included (see the module docstring).

    Parameters
    ----------
    equity
        Equity at each close, on a ``DatetimeIndex``; a plain array when
        ``calendar`` is given.
    initial_cash
        The starting cash.
    max_drawdown
        The deepest drawdown in percent, from :func:`max_drawdown_pct`.
    periods_per_year
        Overrides the detected return periods per year.
    risk_free_rate
        The annual risk-free rate.
    calendar
        :func:`bar_calendar` of the bars' times; worked out from the
        equity's index when None.

    Returns
    -------
    dict
        Floats keyed by :data:`RETURN_STAT_KEYS`.
    """
    if calendar is None:
        if not isinstance(equity, pd.Series):
            raise InvalidInputError(
                "equity must be a Series on the bars' times unless a calendar is given"
            )
        calendar = bar_calendar(pd.DatetimeIndex(equity.index))
    values = np.asarray(equity, dtype=np.float64)
    index = calendar.index
    periods = calendar.periods_per_year if periods_per_year is None else float(periods_per_year)
    ruined = _ruin_bar(values) is not None
    returns = measured_returns(values, calendar)
    annual_return_pct = return_ann_pct(returns, periods)
    cagr = cagr_pct(values, initial_cash, index[-1] - index[0])
    compounded_volatility_pct = volatility_ann_backtesting_py_pct(returns, periods)
    statistics = {
        "total_return_pct": total_return_pct(values, initial_cash),
        "return_ann_pct": annual_return_pct,
        "volatility_ann_pct": volatility_ann_pct(returns, periods),
        "cagr_pct": cagr,
        "sharpe": sharpe(returns, periods, risk_free_rate),
        "sortino": sortino(returns, periods, risk_free_rate),
        "calmar": calmar(cagr / 100.0, max_drawdown / 100.0),
        "volatility_ann_backtesting_py_pct": compounded_volatility_pct,
        "sharpe_backtesting_py": sharpe_backtesting_py(
            annual_return_pct, compounded_volatility_pct, risk_free_rate
        ),
        "sortino_backtesting_py": sortino_backtesting_py(returns, periods, risk_free_rate),
        "calmar_backtesting_py": calmar_backtesting_py(
            annual_return_pct / 100.0, max_drawdown / 100.0
        ),
    }
    if ruined:
        statistics.update(total_return_pct=-100.0, return_ann_pct=-100.0, cagr_pct=-100.0)
        statistics.update(dict.fromkeys(RATIO_KEYS, -math.inf))
    return statistics


def _ruin_bar(equity: np.ndarray) -> int | None:
    """The first bar at which the equity is at or below zero, or None."""
    if len(equity) == 0 or bool(equity.min() > 0.0):
        return None
    ruin_bars = np.flatnonzero(equity <= 0.0)
    return int(ruin_bars[0]) if len(ruin_bars) else None


def _drawdown_summary(
    equity: np.ndarray, initial_cash: float, calendar: Calendar
) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`max_drawdown_pct` and :func:`drawdown_periods` in one scan of the equity.

    Returns
    -------
    tuple
        The deepest drawdown in percent, each drawdown's depth (a fraction)
        and each one's duration (``timedelta64[ns]``).
    """
    deepest, depths, starts, ends = drawdown_periods_nb(equity, initial_cash)
    if np.isnan(deepest):
        drawdown = drawdown_fraction(equity, initial_cash)
        return max_drawdown_pct(drawdown), *drawdown_periods(drawdown, calendar.index)
    times = calendar.nanoseconds
    return (
        float(deepest * 100.0) + 0.0,
        depths,
        (times[ends] - times[starts]).astype("timedelta64[ns]"),
    )


def upgrade_saved_statistics(
    statistics: Mapping[str, StatValue],
    equity: pd.Series,
    *,
    initial_cash: float,
    periods_per_year: float | None,
    risk_free_rate: float = 0.0,
) -> dict[str, StatValue]:
    """Statistics saved under the old definitions, in today's keys and definitions.

    Runs saved before ``sharpe_backtesting_py`` existed stored backtesting.py's
    volatility, Sharpe, Sortino and Calmar under the plain names, and a ruined
    run's ratios as 0. Their return statistics (:data:`RETURN_STAT_KEYS`) are
    computed again from the saved equity; statistics already in today's keys
    come back unchanged.

    Parameters
    ----------
    statistics
        The statistics as saved.
    equity
        The saved equity at each close.
    initial_cash, periods_per_year, risk_free_rate
        From the saved run's configuration.

    Returns
    -------
    dict
        The statistics in :data:`STAT_KEYS` order, then any others as saved.
    """
    max_drawdown = statistics.get("max_drawdown_pct")
    if "sharpe_backtesting_py" in statistics or not isinstance(max_drawdown, int | float):
        return dict(statistics)
    upgraded = dict(statistics)
    upgraded.update(
        return_statistics(
            equity,
            initial_cash=initial_cash,
            max_drawdown=float(max_drawdown),
            periods_per_year=periods_per_year,
            risk_free_rate=risk_free_rate,
        )
    )
    ordered = {key: upgraded.pop(key) for key in STAT_KEYS if key in upgraded}
    return {**ordered, **upgraded}
