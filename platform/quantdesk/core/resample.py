"""Resampling canonical OHLCV frames to a coarser timeframe, bucketed from each session's start.

The anchoring rule:

- a timeframe shorter than a day must divide 24 hours. Each UTC day is taken
  as a session, opening at its first bar rounded down to the quarter hour (to
  the largest grid that both 15 minutes and the target are multiples of, 5
  minutes for ``10m``), since exchanges open on a quarter hour. The day's
  buckets step by the timeframe from there: a US stock's ``4h`` bars start at
  its session open (14:30 UTC, 13:30 in New York summer time), and a 24/7
  market keeps the epoch grid even when the day's 00:00 bar is missing. A
  session that crosses 00:00 UTC is cut there, and a day whose bars of the
  first quarter hour are missing (a range that starts mid-session) is anchored
  later. ``anchor="epoch"`` buckets on the plain epoch grid instead, for a
  24/7 series that begins mid-day;
- a daily bar is the UTC day, stamped 00:00 UTC, as sources stamp daily bars;
- a longer timeframe must be ``1w`` (weeks start on Monday 00:00 UTC) or
  ``1M``, the calendar month from its first day 00:00 UTC, which takes bars of
  timeframes that divide a day (weeks do not tile months). Others (``3d``)
  are refused, as are those that do not divide a day (``5h``), with a
  one-line error naming timeframes that work. Monthly bars resample to
  nothing but themselves.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantdesk.core.frame import (
    INDEX_NAME,
    OHLCV_COLUMNS,
    empty_ohlcv,
    epoch_nanoseconds,
    is_canonical,
)
from quantdesk.core.timeframe import Timeframe
from quantdesk.errors import InvalidInputError

_SECONDS_PER_DAY = 86_400
_SECONDS_PER_WEEK = 7 * _SECONDS_PER_DAY
_NANOSECONDS_PER_SECOND = 1_000_000_000
_NANOSECONDS_PER_DAY = _SECONDS_PER_DAY * _NANOSECONDS_PER_SECOND
_SESSION_OPEN_GRID_SECONDS = 15 * 60
_ANCHORS = ("session", "epoch")
_DAY = Timeframe(_SECONDS_PER_DAY)

Anchor = Literal["session", "epoch"]


def resampling_timeframe(timeframe: Timeframe | str) -> Timeframe:
    """Parse a resampling target, refusing timeframes that no session grid can hold.

    Parameters
    ----------
    timeframe
        The target timeframe, for example ``"4h"``.

    Returns
    -------
    Timeframe
        The parsed target.

    Raises
    ------
    InvalidInputError
        When a target shorter than a day does not divide 24 hours (``5h``), or
        a longer one is neither a whole number of weeks nor ``1M`` (``3d``).
    """
    target = Timeframe.parse(timeframe)
    if target.is_calendar_month:
        return target
    seconds = target.seconds
    if seconds < _SECONDS_PER_DAY and _SECONDS_PER_DAY % seconds:
        shorter, longer = _neighbouring_divisors_of_a_day(seconds)
        raise InvalidInputError(
            f"cannot resample to {target}: a timeframe shorter than a day must divide 24h "
            f"so that every session starts a bar; use '{shorter}' or '{longer}'"
        )
    if seconds > _SECONDS_PER_DAY and seconds % _SECONDS_PER_WEEK:
        raise InvalidInputError(
            f"cannot resample to {target}: a timeframe longer than a day must be whole weeks "
            "(which start on Monday 00:00 UTC); use '1d' or '1w'"
        )
    return target


def resample_bucket_starts(
    times_nanoseconds: npt.NDArray[np.int64],
    timeframe: Timeframe | str,
    *,
    anchor: Anchor = "session",
) -> npt.NDArray[np.int64]:
    """The start of the target bar each bar falls in, anchored at its session's open.

    Parameters
    ----------
    times_nanoseconds
        Ascending bar start times, as int64 nanoseconds since the epoch (UTC).
    timeframe
        The target timeframe; see :func:`resampling_timeframe` for those allowed.
    anchor
        ``"session"`` (the rule of :mod:`quantdesk.core.resample`) or
        ``"epoch"``: intraday buckets on the epoch grid, whatever the sessions.

    Returns
    -------
    numpy.ndarray
        The bucket start of every bar, in the same units. Within a UTC day,
        buckets step by the timeframe from the day's first bar, rounded down
        to the quarter hour (or the finer grid a target like ``10m`` needs);
        daily, weekly and monthly buckets are the UTC day, the week from
        Monday 00:00 UTC and the calendar month from its first day 00:00 UTC.

    Raises
    ------
    InvalidInputError
        When the times are not ascending, the anchor is unknown or the
        timeframe is refused.
    """
    target = resampling_timeframe(timeframe)
    _check_anchor(anchor)
    times = np.asarray(times_nanoseconds, dtype=np.int64)
    if times.size > 1 and bool((np.diff(times) <= 0).any()):
        raise InvalidInputError(
            "session buckets need strictly ascending bar times; sort the frame and drop duplicates"
        )
    if target >= _DAY or times.size == 0 or anchor == "epoch":
        return target.bucket_starts(times)
    days = np.floor_divide(times, _NANOSECONDS_PER_DAY)
    opens_a_day = np.r_[True, days[1:] != days[:-1]]
    open_grid = math.gcd(target.seconds, _SESSION_OPEN_GRID_SECONDS) * _NANOSECONDS_PER_SECOND
    first_bars = times[opens_a_day]
    anchors = (first_bars // open_grid * open_grid)[np.cumsum(opens_a_day) - 1]
    step = target.nanoseconds
    starts: npt.NDArray[np.int64] = anchors + (times - anchors) // step * step
    return starts


def resample_ohlcv(
    frame: pd.DataFrame,
    timeframe: Timeframe | str,
    *,
    source_timeframe: Timeframe | str | None = None,
    anchor: Anchor = "session",
) -> pd.DataFrame:
    """Aggregate bars into coarser bars bucketed from the start of each session.

    A coarse bar takes the first open, the highest high, the lowest low, the
    last close and the summed volume of the bars that start inside it. It is
    stamped with its own start; buckets with no bars are left out, never
    filled. Buckets follow the anchoring rule of :mod:`quantdesk.core.resample`:
    intraday buckets start at each UTC day's first bar (a stock's session
    open, 00:00 UTC for a 24/7 market), daily ones at 00:00 UTC, weekly
    ones on Monday 00:00 UTC and monthly ones (``1M``) on the month's first
    day 00:00 UTC.

    Parameters
    ----------
    frame
        A canonical OHLCV frame (see :func:`quantdesk.core.frame.validate_ohlcv`).
    timeframe
        The target timeframe, for example ``"4h"``: one that divides a day,
        ``1d``, whole weeks or ``1M``.
    source_timeframe
        The frame's own timeframe. When given, the target must be a whole
        multiple of it and no source bar may reach past the end of its target
        bar.
    anchor
        ``"session"``, or ``"epoch"`` for intraday buckets on the epoch grid
        (a 24/7 series that begins mid-day).

    Returns
    -------
    pandas.DataFrame
        A canonical frame of the coarser bars.

    Raises
    ------
    InvalidInputError
        When the frame is not canonical, the anchor is unknown, the target
        does not divide a day or a
        week, the target is finer than or not a multiple of the source
        timeframe, or a source bar would straddle two target bars.
    """
    target = resampling_timeframe(timeframe)
    _check_anchor(anchor)
    if not is_canonical(frame):
        raise InvalidInputError(
            "resample_ohlcv needs a canonical OHLCV frame; pass it through validate_ohlcv first"
        )
    source = None if source_timeframe is None else Timeframe.parse(source_timeframe)
    if source is not None and not target.is_multiple_of(source):
        raise InvalidInputError(_not_a_multiple(source, target))
    if frame.empty:
        return empty_ohlcv()
    times = epoch_nanoseconds(frame)
    starts = resample_bucket_starts(times, target, anchor=anchor)
    if source is not None:
        _refuse_straddling_bars(times, starts, source, target)
    opens, highs, lows, closes, volumes = (frame[column].to_numpy() for column in OHLCV_COLUMNS)
    first_rows = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    last_rows = np.r_[first_rows[1:] - 1, len(starts) - 1]
    index = pd.DatetimeIndex(starts[first_rows], tz="UTC", name=INDEX_NAME).as_unit("ns")
    return pd.DataFrame(
        {
            "open": opens[first_rows],
            "high": np.maximum.reduceat(highs, first_rows),
            "low": np.minimum.reduceat(lows, first_rows),
            "close": closes[last_rows],
            "volume": np.add.reduceat(volumes, first_rows),
        },
        index=index,
    )


def _check_anchor(anchor: str) -> None:
    if anchor not in _ANCHORS:
        raise InvalidInputError(f"anchor must be 'session' or 'epoch', got {anchor!r}")


def _refuse_straddling_bars(
    times: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    source: Timeframe,
    target: Timeframe,
) -> None:
    straddling = np.flatnonzero(source.shift_nanoseconds(times) > target.shift_nanoseconds(starts))
    if straddling.size == 0:
        return
    first = int(straddling[0])
    where = pd.Timestamp(int(times[first]), tz="UTC")
    bucket = pd.Timestamp(int(starts[first]), tz="UTC")
    raise InvalidInputError(
        f"the {source} bar at {where} would straddle the {target} bar starting {bucket} "
        f"({straddling.size} such bars); pass the frame's real source_timeframe, or "
        f"resample bars that start on one {source} grid"
    )


def _not_a_multiple(source: Timeframe, target: Timeframe) -> str:
    refusal = f"cannot resample {source} bars to {target}"
    if source.is_calendar_month:
        return f"{refusal}: {target} is finer than {source}; monthly bars resample only to 1M"
    if target.is_calendar_month:
        reason = (
            "weeks do not tile months"
            if source.seconds % _SECONDS_PER_WEEK == 0
            else (f"{source} bars do not tile months")
        )
        return f"{refusal}: {reason}; resample bars of 1d or a divisor of a day to 1M"
    return (
        f"{refusal}: the target must be a whole multiple of {source} on the same grid, "
        f"e.g. {Timeframe(source.seconds * 4)}"
    )


def _neighbouring_divisors_of_a_day(seconds: int) -> tuple[Timeframe, Timeframe]:
    unit = 3_600 if seconds % 3_600 == 0 else 60
    divisors = [
        length
        for length in range(unit, _SECONDS_PER_DAY + 1, unit)
        if _SECONDS_PER_DAY % length == 0
    ]
    shorter = max(length for length in divisors if length < seconds)
    longer = min(length for length in divisors if length > seconds)
    return Timeframe(shorter), Timeframe(longer)
