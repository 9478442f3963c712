"""Bars within each trading day, bridged between the day's fixed open and close.

Everything here works on plain NumPy arrays shaped ``(days, bars per day)``.
The random numbers of a day come from a PCG64 stream seeded by the symbol
and bar length, advanced to the day's own position (see
:mod:`quantdesk.synthetic.draws`): every day uses the same fixed count of
words. A day's numbers therefore never depend on which other days are
generated with it, and neither do its bars: the requested range cannot
change a single value.

Within a day:

- shocks are Student-t with five degrees of freedom (fat tails);
- their scale follows an intraday activity curve (a U shape over the stock
  session, a gentle daily wave for crypto) times a log-normal factor that
  moves as an AR(1) process, so volatility clusters within the day too;
- the cumulative path is turned into a bridge that starts at the day's open
  and ends exactly at its close, so the daily path fixes both;
- each bar's high and low are drawn from the distribution of the maximum and
  minimum of a Brownian bridge between the bar's open and close;
- volume follows the same activity curve and grows with the bar's absolute
  return, with log-normal noise.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantdesk.errors import InvalidInputError
from quantdesk.synthetic.draws import normal_pair, stream_uniforms, unit_student_t
from quantdesk.synthetic.markets import AssetClass
from quantdesk.synthetic.sessions import NANOSECONDS_PER_SECOND, SECONDS_PER_DAY, SESSION_SECONDS

FloatArray = npt.NDArray[np.float64]

DRAWS_PER_BAR = 8
"""Raw 64-bit draws each bar consumes: four for two Box-Muller pairs, two for a
chi-square with four degrees of freedom, one each for the high and the low."""
CLUSTERING_TIME_SECONDS = 2 * 3_600.0
"""How long an intraday burst of volatility lasts (the AR(1) time constant)."""
CLUSTERING_STRENGTH = 0.45
"""The standard deviation of the log volatility factor within a day."""
CRYPTO_WAVE_AMPLITUDE = 0.35
CRYPTO_BUSIEST_HOUR_UTC = 15.0
STOCK_BASE_ACTIVITY = 0.6
STOCK_OPEN_BURST, STOCK_OPEN_DECAY = 2.0, 0.04
STOCK_CLOSE_BURST, STOCK_CLOSE_DECAY = 0.9, 0.05
VOLUME_FLOOR = 0.4
"""The share of a bar's volume that does not depend on the size of its move."""
VOLUME_NOISE = 0.3
_MEAN_ABSOLUTE_NORMAL = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class BarLayout:
    """Where the bars of one day sit and how much of the day's activity each gets.

    Attributes
    ----------
    bar_seconds
        The nominal bar length.
    offsets
        Each bar's start after the day's anchor (session open, or midnight
        UTC for daily bars), in nanoseconds.
    activity_share
        Each bar's share of the day's variance and volume; sums to one.
    volatility_share
        The square root of ``activity_share``.
    growth, decay
        ``persistence ** -k`` and ``persistence ** k`` for bar ``k``, used to
        run the intraday AR(1) as a cumulative sum.
    innovation_scale
        ``sqrt(1 - persistence ** 2)``, which keeps the AR(1) at unit variance.
    """

    bar_seconds: int
    offsets: npt.NDArray[np.int64]
    activity_share: FloatArray
    volatility_share: FloatArray
    growth: FloatArray
    decay: FloatArray
    innovation_scale: float

    @property
    def bars_per_day(self) -> int:
        """How many bars one day holds."""
        return len(self.offsets)


@dataclass(frozen=True)
class DayBars:
    """Simulated bars, each array shaped ``(days, bars per day)``; prices are logarithms."""

    log_open: FloatArray
    log_high: FloatArray
    log_low: FloatArray
    log_close: FloatArray
    volume: FloatArray


@functools.cache
def bar_layout(asset_class: AssetClass, bar_seconds: int) -> BarLayout:
    """The layout of a day of bars (memoised).

    Parameters
    ----------
    asset_class
        ``"crypto"``: bars tile the UTC day, so ``bar_seconds`` must divide
        86,400. ``"stock"``: bars start at the session open every
        ``bar_seconds`` and the last one may be cut short by the close.
    bar_seconds
        The bar length; 86,400 gives one bar per day.

    Returns
    -------
    BarLayout
        Read-only arrays describing one day.

    Raises
    ------
    InvalidInputError
        When crypto bars of that length would not tile the day.
    """
    if bar_seconds <= 0 or (asset_class == "crypto" and SECONDS_PER_DAY % bar_seconds):
        raise InvalidInputError(
            f"{bar_seconds} s bars do not tile a {asset_class} day; use a length that divides 1d"
        )
    if bar_seconds >= SECONDS_PER_DAY:
        starts = np.zeros(1)
        shares = np.ones(1)
    elif asset_class == "crypto":
        starts = np.arange(0, SECONDS_PER_DAY, bar_seconds, dtype=np.float64)
        bounds = np.append(starts, SECONDS_PER_DAY) / 3_600.0
        shares = np.diff(_crypto_cumulative_activity(bounds)) / 24.0
    else:
        starts = np.arange(0, SESSION_SECONDS, bar_seconds, dtype=np.float64)
        bounds = np.append(starts, SESSION_SECONDS) / SESSION_SECONDS
        cumulative = _stock_cumulative_activity(bounds)
        shares = np.diff(cumulative) / cumulative[-1]
    steps = np.arange(len(starts), dtype=np.float64)
    persistence = math.exp(-bar_seconds / CLUSTERING_TIME_SECONDS)
    layout = BarLayout(
        bar_seconds=bar_seconds,
        offsets=starts.astype(np.int64) * NANOSECONDS_PER_SECOND,
        activity_share=shares,
        volatility_share=np.sqrt(shares),
        growth=np.exp(steps * (bar_seconds / CLUSTERING_TIME_SECONDS)),
        decay=persistence**steps,
        innovation_scale=math.sqrt(1.0 - persistence**2),
    )
    for array in (layout.offsets, shares, layout.volatility_share, layout.growth, layout.decay):
        array.setflags(write=False)
    return layout


def _crypto_cumulative_activity(hours: FloatArray) -> FloatArray:
    """The integral of ``1 + a cos(2 pi (h - busiest) / 24)`` from hour 0 to ``hours``."""
    angle = 2.0 * np.pi * (hours - CRYPTO_BUSIEST_HOUR_UTC) / 24.0
    start_angle = 2.0 * np.pi * (0.0 - CRYPTO_BUSIEST_HOUR_UTC) / 24.0
    wave = CRYPTO_WAVE_AMPLITUDE * 24.0 / (2.0 * np.pi) * (np.sin(angle) - np.sin(start_angle))
    return np.asarray(hours + wave, dtype=np.float64)


def _stock_cumulative_activity(fractions: FloatArray) -> FloatArray:
    """The integral of the U-shaped session activity from the open to ``fractions``."""
    opening = STOCK_OPEN_BURST * STOCK_OPEN_DECAY * (1.0 - np.exp(-fractions / STOCK_OPEN_DECAY))
    closing = (
        STOCK_CLOSE_BURST
        * STOCK_CLOSE_DECAY
        * (np.exp(-(1.0 - fractions) / STOCK_CLOSE_DECAY) - math.exp(-1.0 / STOCK_CLOSE_DECAY))
    )
    return np.asarray(STOCK_BASE_ACTIVITY * fractions + opening + closing, dtype=np.float64)


def day_uniforms(seed: int, first_day: int, day_count: int, bars_per_day: int) -> FloatArray:
    """Uniform draws in (0, 1) for consecutive days, each from its own place in the stream.

    Parameters
    ----------
    seed
        The stream's seed (symbol and bar length).
    first_day
        The day number of the first day; day ``d`` starts at raw draw
        ``d * DRAWS_PER_BAR * bars_per_day``.
    day_count
        How many consecutive days to draw for.
    bars_per_day
        Bars in one day.

    Returns
    -------
    numpy.ndarray
        Shape ``(day_count, DRAWS_PER_BAR, bars_per_day)``; strictly inside (0, 1).
    """
    draws_per_day = DRAWS_PER_BAR * bars_per_day
    values = stream_uniforms(seed, first_day * draws_per_day, day_count * draws_per_day)
    return values.reshape(day_count, DRAWS_PER_BAR, bars_per_day)


def simulate_day_bars(
    uniforms: FloatArray,
    log_open: FloatArray,
    log_close: FloatArray,
    intraday_volatility: FloatArray,
    volume_level: FloatArray,
    layout: BarLayout,
) -> DayBars:
    """Turn each day's uniforms into bars bridged from its open to its close.

    Parameters
    ----------
    uniforms
        From :func:`day_uniforms`, shape ``(days, DRAWS_PER_BAR, bars per day)``.
    log_open, log_close
        Each day's log open and log close, shape ``(days,)``.
    intraday_volatility
        The standard deviation of each day's open-to-close log return.
    volume_level
        Each day's expected volume.
    layout
        The day's bar layout.

    Returns
    -------
    DayBars
        Log prices and volumes, shape ``(days, bars per day)``. The first
        bar opens at ``log_open``, the last closes exactly at ``log_close``
        and each bar opens where the previous one closed.
    """
    shocks = unit_student_t(uniforms[:, 0], uniforms[:, 1], uniforms[:, 4], uniforms[:, 5])
    clustering_normal, volume_normal = normal_pair(uniforms[:, 2], uniforms[:, 3])

    clustering_normal[:, 1:] *= layout.innovation_scale
    clustering_normal *= layout.growth
    clustering = np.cumsum(clustering_normal, axis=1)
    clustering *= layout.decay
    bar_volatility = np.exp(CLUSTERING_STRENGTH * clustering - CLUSTERING_STRENGTH**2)
    bar_volatility *= layout.volatility_share
    bar_volatility *= intraday_volatility[:, None]

    path = np.cumsum(bar_volatility * shocks, axis=1)
    variance = np.cumsum(bar_volatility * bar_volatility, axis=1)
    miss = path[:, -1:] - (log_close - log_open)[:, None]
    variance /= variance[:, -1:]
    path -= variance * miss
    path += log_open[:, None]
    path[:, -1] = log_close
    opens = np.empty_like(path)
    opens[:, 0] = log_open
    opens[:, 1:] = path[:, :-1]
    moves = path - opens

    spread = -2.0 * bar_volatility * bar_volatility
    squared_moves = moves * moves
    rise = np.sqrt(squared_moves + spread * np.log(uniforms[:, 6]))
    fall = np.sqrt(squared_moves + spread * np.log(uniforms[:, 7]))
    log_high = opens + 0.5 * (moves + rise)
    log_low = opens + 0.5 * (moves - fall)

    activity = np.abs(moves) / (bar_volatility * _MEAN_ABSOLUTE_NORMAL)
    activity *= 1.0 - VOLUME_FLOOR
    activity += VOLUME_FLOOR
    volume = np.exp(VOLUME_NOISE * volume_normal - VOLUME_NOISE**2 / 2.0)
    volume *= activity
    volume *= layout.activity_share
    volume *= volume_level[:, None]
    return DayBars(opens, log_high, log_low, path, volume)


def to_prices(log_prices: FloatArray, decimals: int) -> FloatArray:
    """Exponentiate log prices and round them to the tick, never below one tick.

    Parameters
    ----------
    log_prices
        Natural logarithms of prices.
    decimals
        The number of decimals of the tick.

    Returns
    -------
    numpy.ndarray
        Positive prices on the tick grid.
    """
    prices = np.round(np.exp(log_prices), decimals)
    return np.maximum(prices, 10.0**-decimals)
