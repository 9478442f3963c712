"""Find where price first closes through a neckline, or runs past the pattern's extreme."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

_FIRST_CHUNK = 64


class NecklineBreak(NamedTuple):
    """How a pattern ended: confirmed at a bar, invalidated, or neither by the data's end."""

    confirmation_index: int | None
    invalidated: bool


def find_neckline_break(
    close: np.ndarray,
    extreme: np.ndarray,
    *,
    start: int,
    anchor_index: int,
    anchor_price: float,
    slope: float,
    invalidation_price: float,
    direction: int,
) -> NecklineBreak:
    """Scan forward from ``start`` for the first close through a straight neckline.

    Parameters
    ----------
    close
        Closing prices.
    extreme
        Highs for a top (``direction=1``), lows for a bottom (``direction=-1``).
    start
        The first bar to look at.
    anchor_index, anchor_price, slope
        The neckline: ``anchor_price + slope * (bar - anchor_index)``.
    invalidation_price
        A top is void once a high rises above it (a bottom, once a low falls below).
    direction
        ``1`` for a top, which confirms on a close below the neckline; ``-1`` for a bottom.

    Returns
    -------
    NecklineBreak
        The confirming bar, or whether the pattern was invalidated first.
    """
    length = len(close)
    position = start
    chunk = _FIRST_CHUNK
    while position < length:
        stop = min(length, position + chunk)
        neckline = anchor_price + slope * (np.arange(position, stop) - anchor_index)
        broken = direction * (neckline - close[position:stop]) > 0
        invalid = direction * (extreme[position:stop] - invalidation_price) > 0
        hits = np.flatnonzero(broken | invalid)
        if hits.size:
            first = int(hits[0])
            if invalid[first]:
                return NecklineBreak(None, invalidated=True)
            return NecklineBreak(position + first, invalidated=False)
        position = stop
        # Growing chunks keep the scan linear in the distance to the break.
        chunk *= 2
    return NecklineBreak(None, invalidated=False)
