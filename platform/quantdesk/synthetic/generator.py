"""The public face of the sample markets: canonical OHLCV frames on demand.

How a request is served:

- a timeframe of several hours that divides a day (``2h``, ``4h``, ``6h``,
  ``12h``) is built from the 1h bars, bucketed as
  :func:`~quantdesk.core.resample.resample_ohlcv` buckets them (from the
  session open), so loading ``4h`` and resampling ``1h`` to ``4h`` give the
  same bars;
- other crypto bars tile the UTC day on the epoch grid. A timeframe that
  divides a day is generated directly; any other is built from the largest
  bar length that divides both it and a day (``7m`` from ``1m``, ``5h`` from
  ``1h``, ``1w`` from ``1d``), aggregated on the timeframe's own epoch grid;
- other stock bars shorter than a day start at the session open and step by
  the timeframe, the last one cut short by the close; daily stock bars are
  stamped 00:00 UTC of the session date, and longer ones aggregate the daily
  bars;
- whole days are always generated, from the memoised daily path and each
  day's own random stream, then trimmed to the request, so the bars of a
  timeframe never depend on the requested range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantdesk.core.frame import INDEX_NAME, OHLCV_COLUMNS, empty_ohlcv
from quantdesk.core.resample import resample_bucket_starts
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.synthetic.bars import (
    BarLayout,
    bar_layout,
    day_uniforms,
    simulate_day_bars,
    to_prices,
)
from quantdesk.synthetic.daily import REGIME_NAMES, DailyPath, daily_path
from quantdesk.synthetic.markets import SAMPLE_SPAN, MarketSpec, sample_market, stream_seed
from quantdesk.synthetic.sessions import NANOSECONDS_PER_DAY, SECONDS_PER_DAY

FloatArray = npt.NDArray[np.float64]
IntegerArray = npt.NDArray[np.int64]

BARS_PER_CHUNK = 1 << 18
"""Roughly how many bars are simulated at once; bounds memory on long requests."""
SECONDS_PER_HOUR = 3_600


@dataclass(frozen=True)
class _Plan:
    """How to build bars of one timeframe for one asset class."""

    bar_seconds: int
    aggregate: bool
    anchored_at_session_open: bool
    session_buckets: bool = False


@dataclass(frozen=True)
class _Bars:
    times: IntegerArray
    columns: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


def generate_sample_bars(
    symbol: str, timeframe: Timeframe | str, time_range: TimeRange
) -> pd.DataFrame:
    """Deterministic synthetic OHLCV bars of a sample market.

    The same symbol and timeframe always give the same bar for the same start
    time, whatever range is asked for, in every process.

    Parameters
    ----------
    symbol
        A key of :data:`~quantdesk.synthetic.SAMPLE_MARKETS`, e.g. ``"BTC/USDT"``.
    timeframe
        Any timeframe from ``1m`` to ``1w``, or ``1M``.
    time_range
        The half-open range of bar start times. Only the part inside
        :data:`~quantdesk.synthetic.SAMPLE_SPAN` holds bars.

    Returns
    -------
    pandas.DataFrame
        A canonical OHLCV frame (UTC index ``time``, float64 columns); empty
        when the range holds no bars.

    Raises
    ------
    UnknownNameError
        When ``symbol`` is not a sample symbol.
    InvalidInputError
        When ``timeframe`` cannot be read.
    """
    spec = sample_market(symbol)
    timeframe = Timeframe.parse(timeframe)
    window = time_range.intersection(SAMPLE_SPAN)
    if window is None:
        return empty_ohlcv()
    start, end = int(window.start.value), int(window.end.value)
    plan = _plan(spec, timeframe)
    if plan.aggregate and not plan.session_buckets:
        cover_start, cover_end = _bucket_cover(timeframe, start, end)
    else:
        cover_start, cover_end = start, end
    path = daily_path(symbol)
    first = int(np.searchsorted(path.day_numbers, cover_start // NANOSECONDS_PER_DAY, "left"))
    stop = int(np.searchsorted(path.day_numbers, (cover_end - 1) // NANOSECONDS_PER_DAY, "right"))
    if first >= stop:
        return empty_ohlcv()
    bars = _simulate(spec, path, bar_layout(spec.asset_class, plan.bar_seconds), plan, first, stop)
    if plan.session_buckets:
        bars = _aggregate(bars, resample_bucket_starts(bars.times, timeframe), volume_decimals=None)
    elif plan.aggregate:
        bars = _aggregate(bars, timeframe.bucket_starts(bars.times), spec.volume_decimals)
    keep = (bars.times >= start) & (bars.times < end)
    if not keep.any():
        return empty_ohlcv()
    index = pd.DatetimeIndex(bars.times[keep].view("datetime64[ns]"), name=INDEX_NAME)
    columns = {name: column[keep] for name, column in zip(OHLCV_COLUMNS, bars.columns, strict=True)}
    return pd.DataFrame(columns, index=index.tz_localize("UTC"))


def market_regimes(symbol: str) -> pd.Series:
    """The regime of each trading day of a sample market.

    Parameters
    ----------
    symbol
        A sample symbol.

    Returns
    -------
    pandas.Series
        ``"trend"`` or ``"mean_reversion"`` for each trading day, indexed by
        the day's 00:00 UTC (the stamp of its daily bar).
    """
    path = daily_path(sample_market(symbol).symbol)
    names = np.array([REGIME_NAMES[code] for code in sorted(REGIME_NAMES)], dtype=object)
    index = pd.DatetimeIndex(
        (path.day_numbers * NANOSECONDS_PER_DAY).view("datetime64[ns]"), name=INDEX_NAME
    ).tz_localize("UTC")
    return pd.Series(names[path.regime], index=index, name="regime")


def _plan(spec: MarketSpec, timeframe: Timeframe) -> _Plan:
    if timeframe.is_calendar_month:
        return _Plan(SECONDS_PER_DAY, aggregate=True, anchored_at_session_open=False)
    seconds = timeframe.seconds
    if SECONDS_PER_HOUR < seconds < SECONDS_PER_DAY and _divides_a_day_in_hours(seconds):
        return _Plan(
            SECONDS_PER_HOUR, aggregate=True, anchored_at_session_open=True, session_buckets=True
        )
    if spec.asset_class == "crypto":
        bar_seconds = math.gcd(seconds, SECONDS_PER_DAY)
        return _Plan(bar_seconds, bar_seconds != seconds, anchored_at_session_open=True)
    if seconds < SECONDS_PER_DAY:
        return _Plan(seconds, aggregate=False, anchored_at_session_open=True)
    return _Plan(SECONDS_PER_DAY, seconds != SECONDS_PER_DAY, anchored_at_session_open=False)


def _divides_a_day_in_hours(seconds: int) -> bool:
    return seconds % SECONDS_PER_HOUR == 0 and SECONDS_PER_DAY % seconds == 0


def _bucket_cover(timeframe: Timeframe, start: int, end: int) -> tuple[int, int]:
    """The range spanned by the whole buckets that start within ``[start, end)``."""
    edges = timeframe.bucket_starts(np.array([start, end - 1], dtype=np.int64))
    first_bucket, last_bucket = int(edges[0]), int(edges[1])
    if first_bucket < start:
        first_bucket = int(timeframe.shift_nanoseconds(np.array([first_bucket]))[0])
    last_end = int(timeframe.shift_nanoseconds(np.array([max(first_bucket, last_bucket)]))[0])
    return first_bucket, last_end


def _simulate(
    spec: MarketSpec, path: DailyPath, layout: BarLayout, plan: _Plan, first: int, stop: int
) -> _Bars:
    """Bars of trading days ``first`` to ``stop - 1`` of the path, in chunks of whole days."""
    seed = stream_seed(spec.symbol, f"bars-{layout.bar_seconds}")
    days_per_chunk = max(1, BARS_PER_CHUNK // layout.bars_per_day)
    times: list[IntegerArray] = []
    columns: list[list[FloatArray]] = [[] for _ in OHLCV_COLUMNS]
    for chunk_first in range(first, stop, days_per_chunk):
        chunk = slice(chunk_first, min(chunk_first + days_per_chunk, stop))
        day_numbers = path.day_numbers[chunk]
        first_day = int(day_numbers[0])
        calendar_days = int(day_numbers[-1]) - first_day + 1
        uniforms = day_uniforms(seed, first_day, calendar_days, layout.bars_per_day)
        if calendar_days != len(day_numbers):
            uniforms = uniforms[day_numbers - first_day]
        simulated = simulate_day_bars(
            uniforms,
            path.log_open[chunk],
            path.log_close[chunk],
            path.intraday_volatility[chunk],
            path.volume_level[chunk],
            layout,
        )
        anchors = (
            path.session_opens[chunk]
            if plan.anchored_at_session_open
            else day_numbers * NANOSECONDS_PER_DAY
        )
        times.append((anchors[:, None] + layout.offsets).ravel())
        opens = to_prices(simulated.log_open, spec.price_decimals)
        closes = to_prices(simulated.log_close, spec.price_decimals)
        highs = np.maximum(to_prices(simulated.log_high, spec.price_decimals), opens)
        lows = np.minimum(to_prices(simulated.log_low, spec.price_decimals), opens)
        np.maximum(highs, closes, out=highs)
        np.minimum(lows, closes, out=lows)
        volumes = np.round(simulated.volume, spec.volume_decimals)
        for collected, column in zip(columns, (opens, highs, lows, closes, volumes), strict=True):
            collected.append(column.ravel())
    joined = [np.concatenate(pieces) for pieces in columns]
    return _Bars(np.concatenate(times), (joined[0], joined[1], joined[2], joined[3], joined[4]))


def _aggregate(bars: _Bars, buckets: IntegerArray, volume_decimals: int | None) -> _Bars:
    """Combine time-sorted bars into buckets, stamped with the bucket start.

    Volumes are rounded to ``volume_decimals``, or left as plain sums for None,
    which is what :func:`~quantdesk.core.resample.resample_ohlcv` gives.
    """
    firsts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    lasts = np.r_[firsts[1:] - 1, len(buckets) - 1]
    opens, highs, lows, closes, volumes = bars.columns
    bucket_highs: FloatArray = np.maximum.reduceat(highs, firsts)
    bucket_lows: FloatArray = np.minimum.reduceat(lows, firsts)
    bucket_volumes: FloatArray = np.add.reduceat(volumes, firsts)
    if volume_decimals is not None:
        bucket_volumes = bucket_volumes.round(volume_decimals)
    return _Bars(
        buckets[firsts],
        (opens[firsts], bucket_highs, bucket_lows, closes[lasts], bucket_volumes),
    )
