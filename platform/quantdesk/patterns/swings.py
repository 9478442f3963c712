"""Swing highs and lows: bars that stand strictly above (or below) their neighbours.

A bar is a swing high of order ``n`` when its high is strictly greater than
the high of each of the ``n`` bars before it and the ``n`` bars after it;
swing lows mirror this on the lows. A swing is only known once the ``n`` bars
after it have closed, so each swing carries the bar that confirms it
(``confirmation_index = index + order``), and the last ``order`` bars of a
frame never hold a swing. Ties disqualify: two equal highs side by side are
not a swing high.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError
from quantdesk.indicators.inputs import require_int
from quantdesk.patterns._bars import Bars, read_bars
from quantdesk.patterns.records import records_to_frame

SwingKind = Literal["high", "low"]


@dataclass(frozen=True)
class SwingPoint:
    """A confirmed swing high or low.

    Attributes
    ----------
    kind
        ``"high"`` or ``"low"``.
    index
        The swing bar's position in the frame, from 0.
    time
        The swing bar's timestamp.
    price
        Its high (for a swing high) or low (for a swing low).
    confirmation_index
        The bar whose close confirms the swing: ``index + order``.
    confirmation_time
        That bar's timestamp; the earliest time the swing is known.
    """

    kind: SwingKind
    index: int
    time: pd.Timestamp
    price: float
    confirmation_index: int
    confirmation_time: pd.Timestamp


def swing_positions(values: np.ndarray, order: int, *, kind: SwingKind) -> np.ndarray:
    """Find the positions of strict local extremes in a plain array.

    Parameters
    ----------
    values
        The prices to scan (highs for ``"high"``, lows for ``"low"``).
    order
        Bars on each side that the extreme must strictly beat, at least 1.
    kind
        ``"high"`` for maxima, ``"low"`` for minima.

    Returns
    -------
    numpy.ndarray
        Increasing ``int64`` positions. Bars within ``order`` of either end, and
        bars whose window holds a NaN, are never extremes.
    """
    order = require_int(order, "order")
    if kind not in ("high", "low"):
        raise InvalidInputError(f"kind must be 'high' or 'low', got {kind!r}")
    oriented = pd.Series(values if kind == "high" else -np.asarray(values), dtype=np.float64)
    window_max = oriented.rolling(order).max()
    before = window_max.shift(1).to_numpy()
    after = window_max.shift(-order).to_numpy()
    current = oriented.to_numpy()
    is_extreme = (current > before) & (current > after)
    return np.flatnonzero(is_extreme).astype(np.int64)


def find_swings(frame: pd.DataFrame, order: int = 5) -> list[SwingPoint]:
    """Find the confirmed swing highs and lows of a frame.

    Parameters
    ----------
    frame
        A canonical frame (``high`` and ``low`` are read).
    order
        Bars on each side a swing must strictly beat, at least 1.

    Returns
    -------
    list of SwingPoint
        Ordered by bar; on a bar that is both, the high comes first.
    """
    bars = read_bars(frame, ("high", "low"), what="find_swings")
    highs = _swings(bars, order, "high")
    lows = _swings(bars, order, "low")
    return sorted(highs + lows, key=lambda swing: (swing.index, swing.kind != "high"))


def swing_highs(frame: pd.DataFrame, order: int = 5) -> list[SwingPoint]:
    """Find the confirmed swing highs of a frame.

    Parameters
    ----------
    frame
        A canonical frame (``high`` is read).
    order
        Bars on each side a swing high must strictly beat, at least 1.

    Returns
    -------
    list of SwingPoint
        Ordered by bar.
    """
    return _swings(read_bars(frame, ("high",), what="swing_highs"), order, "high")


def swing_lows(frame: pd.DataFrame, order: int = 5) -> list[SwingPoint]:
    """Find the confirmed swing lows of a frame.

    Parameters
    ----------
    frame
        A canonical frame (``low`` is read).
    order
        Bars on each side a swing low must strictly beat, at least 1.

    Returns
    -------
    list of SwingPoint
        Ordered by bar.
    """
    return _swings(read_bars(frame, ("low",), what="swing_lows"), order, "low")


def swings_to_frame(swings: Sequence[SwingPoint]) -> pd.DataFrame:
    """Turn swing points into a frame, one row per swing.

    Parameters
    ----------
    swings
        What :func:`find_swings` returned.

    Returns
    -------
    pandas.DataFrame
        Columns ``kind``, ``index``, ``time``, ``price``, ``confirmation_index``
        and ``confirmation_time``.
    """
    return records_to_frame(swings, SwingPoint)


def _swings(bars: Bars, order: int, kind: SwingKind) -> list[SwingPoint]:
    order = require_int(order, "order")
    prices = bars[kind]
    positions = swing_positions(prices, order, kind=kind)
    return [
        SwingPoint(
            kind=kind,
            index=int(position),
            time=bars.index[position],
            price=float(prices[position]),
            confirmation_index=int(position) + order,
            confirmation_time=bars.index[position + order],
        )
        for position in positions
    ]
