"""Range breakouts: closes beyond the highest high or lowest low of the bars before.

Bar ``i`` breaks out upward when its close is above the highest high of bars
``i - lookback`` to ``i - 1``, and downward when its close is below their
lowest low; only earlier bars are read. With ``volume_factor``, a breakout
also needs the bar's volume to reach ``volume_factor`` times the mean volume
of those same earlier bars. Every qualifying bar is reported, so a trend that
keeps making new highs reports a breakout on each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from quantdesk.indicators.inputs import require_int, require_positive_float
from quantdesk.patterns._bars import read_bars
from quantdesk.patterns.records import records_to_frame

BreakoutDirection = Literal["up", "down"]


@dataclass(frozen=True)
class Breakout:
    """A close beyond the range of the preceding bars.

    Attributes
    ----------
    direction
        ``"up"`` above the range, ``"down"`` below it.
    index
        The breakout bar's position in the frame, from 0.
    time
        The breakout bar's timestamp.
    close
        The breakout bar's close.
    level
        The broken edge: the highest high (up) or lowest low (down) of the range.
    volume
        The breakout bar's volume.
    average_volume
        The mean volume of the range's bars.
    volume_ratio
        ``volume / average_volume`` (``inf`` over a range without volume, NaN for 0/0).
    """

    direction: BreakoutDirection
    index: int
    time: pd.Timestamp
    close: float
    level: float
    volume: float
    average_volume: float
    volume_ratio: float


def find_breakouts(
    frame: pd.DataFrame,
    lookback: int = 20,
    *,
    volume_factor: float | None = None,
) -> list[Breakout]:
    """Find closes beyond the high-low range of the preceding ``lookback`` bars.

    Parameters
    ----------
    frame
        A canonical frame (``high``, ``low``, ``close`` and ``volume`` are read).
    lookback
        Bars in the range before each bar, at least 1. Frames no longer than
        this have no breakouts.
    volume_factor
        When given (above 0), a breakout also needs volume of at least this
        multiple of the range's mean volume, and some volume at all.

    Returns
    -------
    list of Breakout
        Ordered by bar.
    """
    lookback = require_int(lookback, "lookback")
    factor = None
    if volume_factor is not None:
        factor = require_positive_float(volume_factor, "volume_factor")
    bars = read_bars(frame, ("high", "low", "close", "volume"), what="find_breakouts")
    close, volume = bars["close"], bars["volume"]
    # Each statistic is taken over bars i - lookback .. i - 1, hence the shift.
    range_high = pd.Series(bars["high"]).rolling(lookback).max().shift(1).to_numpy()
    range_low = pd.Series(bars["low"]).rolling(lookback).min().shift(1).to_numpy()
    average_volume = pd.Series(volume).rolling(lookback).mean().shift(1).to_numpy()
    upward = close > range_high
    downward = close < range_low
    if factor is not None:
        loud = (volume >= factor * average_volume) & (volume > 0)
        upward &= loud
        downward &= loud
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = volume / average_volume
    breakouts: list[Breakout] = []
    for position in np.flatnonzero(upward | downward).tolist():
        is_up = bool(upward[position])
        breakouts.append(
            Breakout(
                direction="up" if is_up else "down",
                index=position,
                time=bars.index[position],
                close=float(close[position]),
                level=float(range_high[position] if is_up else range_low[position]),
                volume=float(volume[position]),
                average_volume=float(average_volume[position]),
                volume_ratio=float(ratio[position]),
            )
        )
    return breakouts


def breakouts_to_frame(breakouts: Sequence[Breakout]) -> pd.DataFrame:
    """Turn breakouts into a frame, one row per breakout.

    Parameters
    ----------
    breakouts
        What :func:`find_breakouts` returned.

    Returns
    -------
    pandas.DataFrame
        Columns ``direction``, ``index``, ``time``, ``close``, ``level``,
        ``volume``, ``average_volume`` and ``volume_ratio``.
    """
    return records_to_frame(breakouts, Breakout)
