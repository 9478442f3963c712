"""The daily "macro" path of a sample market, generated once for the whole span.

Each trading day gets an open and a close (log prices), the volatility of its
session and a volume level. The path is what makes bars independent of the
requested range: intraday bars are bridged between these fixed daily points.

The model, day by day:

- a regime that switches between *trend* and *mean reversion*, with episode
  lengths drawn from shifted geometric distributions. A trend episode has a
  drift of random sign (biased back towards the long-run level) and a little
  momentum; a mean-reversion episode pulls the price back to where the
  episode began;
- a weak pull towards the long-run level ``start_price * exp(annual_drift * years)``,
  which keeps prices plausible over eleven years;
- an asymmetric GARCH(1,1) variance with Student-t shocks (five degrees of
  freedom), times a slow log-normal volatility factor (an AR(1) with a
  time constant of 60 trading days): volatility clusters over days and
  months and returns have fat tails;
- for stocks, a fifth of the daily variance arrives overnight, as a gap
  between the previous close and the open; crypto opens at the previous close.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantdesk.synthetic.draws import geometric, normal_pair, stream_uniforms, unit_student_t
from quantdesk.synthetic.markets import SAMPLE_SPAN, MarketSpec, sample_market, stream_seed
from quantdesk.synthetic.sessions import trading_days

MEAN_REVERSION = 0
TREND = 1
REGIME_NAMES: dict[int, str] = {MEAN_REVERSION: "mean_reversion", TREND: "trend"}

TREND_MEAN_DAYS = 90.0
MEAN_REVERSION_MEAN_DAYS = 70.0
SHORTEST_EPISODE_DAYS = 10
TREND_DRIFT_PER_VOLATILITY = 1.2
"""A trend's yearly drift, in units of the market's annual volatility."""
TREND_MOMENTUM = 0.03
REVERSION_SPEED = 0.10
"""The fraction of the distance to the episode's anchor closed each trading day."""
LEVEL_PULL_PER_YEAR = 1.5
TREND_DIRECTION_SENSITIVITY = 3.0
ARCH_WEIGHT = 0.05
LEVERAGE_WEIGHT = 0.06
PERSISTENCE_WEIGHT = 0.90
VARIANCE_CEILING = 16.0
"""The largest GARCH variance, as a multiple of the market's typical variance."""
SLOW_VOLATILITY_DAYS = 60.0
"""The time constant of the slow log-volatility factor, in trading days."""
SLOW_VOLATILITY_STRENGTH = 0.3
"""The standard deviation of the slow factor's logarithm."""
STOCK_OVERNIGHT_SHARE = 0.2
VOLUME_VOLATILITY_ELASTICITY = 0.8
VOLUME_NOISE = 0.25
DAILY_DRAWS = 11
"""Uniforms each day uses: four for each of its two Student-t shocks, one for a
trend's direction and a Box-Muller pair for the volume and slow-volatility noises."""


@dataclass(frozen=True)
class DailyPath:
    """The daily skeleton of one market; every array has one entry per trading day.

    Attributes
    ----------
    day_numbers
        Days since 1970-01-01 (UTC date).
    session_opens
        The start of each day's trading, in epoch nanoseconds.
    log_open, log_close
        Natural logarithms of the day's opening and closing prices.
    intraday_volatility
        The standard deviation of the log return from open to close.
    volume_level
        The expected volume of the day, in units of the asset.
    regime
        :data:`TREND` or :data:`MEAN_REVERSION`.
    """

    day_numbers: npt.NDArray[np.int64]
    session_opens: npt.NDArray[np.int64]
    log_open: npt.NDArray[np.float64]
    log_close: npt.NDArray[np.float64]
    intraday_volatility: npt.NDArray[np.float64]
    volume_level: npt.NDArray[np.float64]
    regime: npt.NDArray[np.int8]


@functools.cache
def daily_path(symbol: str) -> DailyPath:
    """The daily path of a sample symbol over the whole span (memoised, read-only).

    Parameters
    ----------
    symbol
        A sample symbol.

    Returns
    -------
    DailyPath
        The path; the same object on every call in a process.
    """
    spec = sample_market(symbol)
    days = trading_days(spec.asset_class)
    count = len(days.day_numbers)
    span_years = (SAMPLE_SPAN.end - SAMPLE_SPAN.start).days / 365.25
    steps_per_year = count / span_years
    years = (days.day_numbers - days.day_numbers[0]) / 365.25

    regime = _regime_sequence(stream_seed(symbol, "regimes"), count)
    draws = stream_uniforms(stream_seed(symbol, "daily"), 0, DAILY_DRAWS * count)
    draws = draws.reshape(DAILY_DRAWS, count)
    intraday_shocks = unit_student_t(draws[0], draws[1], draws[2], draws[3])
    overnight_shocks = unit_student_t(draws[4], draws[5], draws[6], draws[7])
    direction_draws = draws[8]
    volume_noise, slow_volatility_noise = normal_pair(draws[9], draws[10])

    log_open, log_close, volatility = _simulate_levels(
        spec,
        regime,
        np.log(spec.start_price) + spec.annual_drift * years,
        steps_per_year,
        intraday_shocks,
        overnight_shocks,
        direction_draws,
        slow_volatility_noise,
    )
    overnight_share = STOCK_OVERNIGHT_SHARE if spec.asset_class == "stock" else 0.0
    typical_volatility = spec.annual_volatility / math.sqrt(steps_per_year)
    volume_level = (
        spec.daily_volume
        * (volatility / typical_volatility) ** VOLUME_VOLATILITY_ELASTICITY
        * np.exp(VOLUME_NOISE * volume_noise - VOLUME_NOISE**2 / 2)
    )
    path = DailyPath(
        day_numbers=days.day_numbers,
        session_opens=days.session_opens,
        log_open=log_open,
        log_close=log_close,
        intraday_volatility=volatility * math.sqrt(1.0 - overnight_share),
        volume_level=volume_level,
        regime=regime,
    )
    for array in (log_open, log_close, path.intraday_volatility, volume_level, regime):
        array.setflags(write=False)
    return path


def _regime_sequence(seed: int, count: int) -> npt.NDArray[np.int8]:
    """Alternate trend and mean-reversion episodes until ``count`` days are filled."""
    pairs = count // (2 * SHORTEST_EPISODE_DAYS) + 1
    draws = stream_uniforms(seed, 0, 1 + 2 * pairs)
    first = TREND if draws[0] < 0.5 else MEAN_REVERSION
    extra = SHORTEST_EPISODE_DAYS - 1
    trend_lengths = extra + geometric(draws[1 : 1 + pairs], TREND_MEAN_DAYS - extra)
    reversion_lengths = extra + geometric(draws[1 + pairs :], MEAN_REVERSION_MEAN_DAYS - extra)
    labels = np.empty(2 * pairs, dtype=np.int8)
    lengths = np.empty(2 * pairs, dtype=np.int64)
    labels[0::2], labels[1::2] = first, 1 - first
    lengths[0::2] = trend_lengths if first == TREND else reversion_lengths
    lengths[1::2] = reversion_lengths if first == TREND else trend_lengths
    return np.repeat(labels, lengths)[:count].copy()


def _simulate_levels(
    spec: MarketSpec,
    regime: npt.NDArray[np.int8],
    long_run_level: npt.NDArray[np.float64],
    steps_per_year: float,
    intraday_shocks: npt.NDArray[np.float64],
    overnight_shocks: npt.NDArray[np.float64],
    direction_draws: npt.NDArray[np.float64],
    slow_volatility_noise: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Run the daily recursion; returns log opens, log closes and daily volatilities.

    A plain loop over about 4,000 days, run once per symbol: the variance and
    the regime state feed back on the price, so it does not vectorise.
    """
    count = len(regime)
    overnight_share = STOCK_OVERNIGHT_SHARE if spec.asset_class == "stock" else 0.0
    overnight_scale = math.sqrt(overnight_share)
    intraday_scale = math.sqrt(1.0 - overnight_share)
    typical_variance = spec.annual_volatility**2 / steps_per_year
    constant_variance = typical_variance * (
        1.0 - ARCH_WEIGHT - LEVERAGE_WEIGHT / 2.0 - PERSISTENCE_WEIGHT
    )
    variance_ceiling = VARIANCE_CEILING * typical_variance
    trend_step = TREND_DRIFT_PER_VOLATILITY * spec.annual_volatility / steps_per_year
    level_step = spec.annual_drift / steps_per_year
    level_pull = LEVEL_PULL_PER_YEAR / steps_per_year

    regimes = regime.tolist()
    targets = long_run_level.tolist()
    intraday = intraday_shocks.tolist()
    overnight = overnight_shocks.tolist()
    directions = direction_draws.tolist()
    slow_noise = slow_volatility_noise.tolist()
    slow_persistence = math.exp(-1.0 / SLOW_VOLATILITY_DAYS)
    slow_innovation_scale = math.sqrt(1.0 - slow_persistence**2)
    slow_level = 0.0
    opens = [0.0] * count
    closes = [0.0] * count
    volatilities = [0.0] * count

    log_price = math.log(spec.start_price)
    variance = typical_variance
    previous_shock = 0.0
    trend_drift = 0.0
    anchor = log_price
    for day in range(count):
        if day == 0 or regimes[day] != regimes[day - 1]:
            if regimes[day] == TREND:
                deviation = log_price - targets[day]
                up_probability = 1.0 / (1.0 + math.exp(TREND_DIRECTION_SENSITIVITY * deviation))
                trend_drift = trend_step if directions[day] < up_probability else -trend_step
                previous_shock = 0.0
            else:
                anchor = log_price
        slow_level = (
            slow_noise[0]
            if day == 0
            else slow_persistence * slow_level + slow_innovation_scale * slow_noise[day]
        )
        slow_factor = math.exp(SLOW_VOLATILITY_STRENGTH * slow_level - SLOW_VOLATILITY_STRENGTH**2)
        volatility = math.sqrt(variance) * slow_factor
        gap = overnight_scale * volatility * overnight[day] if overnight_share else 0.0
        intraday_shock = intraday_scale * volatility * intraday[day]
        if regimes[day] == TREND:
            expected = trend_drift + TREND_MOMENTUM * previous_shock
        else:
            expected = -REVERSION_SPEED * (log_price - anchor)
        expected += level_step - level_pull * (log_price - targets[day])
        opens[day] = log_price + gap
        closes[day] = opens[day] + expected + intraday_shock
        volatilities[day] = volatility
        shock = gap + intraday_shock
        # The GARCH part sees the shock without the slow factor; feeding the
        # factor back in would compound it and let the variance run away.
        garch_shock = shock / slow_factor
        weight = ARCH_WEIGHT + (LEVERAGE_WEIGHT if shock < 0.0 else 0.0)
        variance = min(
            constant_variance + weight * garch_shock * garch_shock + PERSISTENCE_WEIGHT * variance,
            variance_ceiling,
        )
        previous_shock = shock
        log_price = closes[day]
    return (
        np.asarray(opens, dtype=np.float64),
        np.asarray(closes, dtype=np.float64),
        np.asarray(volatilities, dtype=np.float64),
    )
