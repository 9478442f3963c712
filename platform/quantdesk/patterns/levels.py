"""Support and resistance levels: prices where several swings turned.

Swing highs and lows (see :mod:`quantdesk.patterns.swings`) are sorted by
price and grouped greedily: a group starts at its lowest price and takes every
following swing up to ``tolerance`` above that start. A group with at least
``minimum_touches`` swings is a level at the mean of its prices. Levels at or
below the last close are support, levels above it resistance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from quantdesk.indicators.inputs import require_fraction, require_int
from quantdesk.patterns._bars import read_bars
from quantdesk.patterns.records import PricePoint, records_to_frame
from quantdesk.patterns.swings import SwingPoint, find_swings

LevelKind = Literal["support", "resistance"]


@dataclass(frozen=True)
class PriceLevel:
    """A price where swings clustered.

    Attributes
    ----------
    kind
        ``"support"`` when the level is at or below the last close, else ``"resistance"``.
    price
        The mean price of the swings in the cluster.
    lower, upper
        The lowest and highest swing price in the cluster.
    touches
        How many swings (highs and lows together) fall in the cluster.
    first_touch, last_touch
        The earliest and latest swing in the cluster (its high or low price).
    """

    kind: LevelKind
    price: float
    lower: float
    upper: float
    touches: int
    first_touch: PricePoint
    last_touch: PricePoint


def find_levels(
    frame: pd.DataFrame,
    order: int = 5,
    tolerance: float = 0.01,
    minimum_touches: int = 2,
) -> list[PriceLevel]:
    """Find support and resistance levels from clustered swing prices.

    Parameters
    ----------
    frame
        A canonical frame (``high``, ``low`` and ``close`` are read).
    order
        The swing order: bars on each side a swing must strictly beat.
    tolerance
        Widest spread of one cluster, as a fraction of its lowest price (0.01 is 1 %).
    minimum_touches
        Fewest swings that make a level, at least 1.

    Returns
    -------
    list of PriceLevel
        Strongest first: most touches, then the most recent last touch, then the lower price.
    """
    tolerance = require_fraction(tolerance, "tolerance", allow_zero=False)
    minimum_touches = require_int(minimum_touches, "minimum_touches")
    order = require_int(order, "order")
    bars = read_bars(frame, ("high", "low", "close"), what="find_levels")
    swings = find_swings(frame, order)
    if not swings:
        return []
    last_close = float(bars["close"][-1])
    levels = [
        _level(cluster, last_close)
        for cluster in _clusters(swings, tolerance)
        if len(cluster) >= minimum_touches
    ]
    return sorted(levels, key=lambda level: (-level.touches, -level.last_touch.index, level.price))


def levels_to_frame(levels: Sequence[PriceLevel]) -> pd.DataFrame:
    """Turn price levels into a frame, one row per level.

    Parameters
    ----------
    levels
        What :func:`find_levels` returned.

    Returns
    -------
    pandas.DataFrame
        Columns ``kind``, ``price``, ``lower``, ``upper``, ``touches`` and
        ``index``/``time``/``price`` columns for ``first_touch`` and ``last_touch``.
    """
    return records_to_frame(levels, PriceLevel)


def _clusters(swings: list[SwingPoint], tolerance: float) -> list[list[SwingPoint]]:
    by_price = sorted(swings, key=lambda swing: (swing.price, swing.index))
    clusters: list[list[SwingPoint]] = []
    ceiling = -np.inf
    for swing in by_price:
        if swing.price > ceiling:
            clusters.append([])
            ceiling = swing.price * (1 + tolerance)
        clusters[-1].append(swing)
    return clusters


def _level(cluster: list[SwingPoint], last_close: float) -> PriceLevel:
    prices = [swing.price for swing in cluster]
    first = min(cluster, key=lambda swing: swing.index)
    last = max(cluster, key=lambda swing: swing.index)
    price = float(np.mean(prices))
    return PriceLevel(
        kind="support" if price <= last_close else "resistance",
        price=price,
        lower=min(prices),
        upper=max(prices),
        touches=len(cluster),
        first_touch=PricePoint(first.index, first.time, first.price),
        last_touch=PricePoint(last.index, last.time, last.price),
    )
