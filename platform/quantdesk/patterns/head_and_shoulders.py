"""Head-and-shoulders tops and inverse head-and-shoulders bottoms.

A head-and-shoulders top is three consecutive swing highs (see
:mod:`quantdesk.patterns.swings`) where the middle one, the head, is the
highest bar from the left shoulder to the right shoulder and the shoulders
differ by at most ``tolerance`` of the left one. The neckline runs through the
lowest low between the left shoulder and the head and the lowest low between
the head and the right shoulder, extended to the right. The pattern is
confirmed by the first close below the neckline from the bar that confirms the
right shoulder onward, and void if a high rises above the head first. The
inverse pattern mirrors all of this on swing lows. Because the swings are
consecutive, ``order`` sets the scale of the patterns found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from quantdesk.indicators.inputs import require_fraction, require_int
from quantdesk.patterns._bars import read_bars
from quantdesk.patterns._confirmation import find_neckline_break
from quantdesk.patterns.records import PricePoint, records_to_frame
from quantdesk.patterns.swings import swing_positions

PatternKind = Literal["top", "bottom"]


@dataclass(frozen=True)
class HeadAndShoulders:
    """A head-and-shoulders top or an inverse head-and-shoulders bottom.

    Attributes
    ----------
    kind
        ``"top"`` for head and shoulders, ``"bottom"`` for the inverse pattern.
    left_shoulder, head, right_shoulder
        The three swing extremes (highs for a top, lows for a bottom).
    neckline_start, neckline_end
        The lowest lows (top) or highest highs (bottom) between the shoulders
        and the head; the neckline runs through them.
    confirmation
        The bar whose close confirmed the pattern (its close as the price), or
        ``None`` while the pattern is still forming.
    """

    kind: PatternKind
    left_shoulder: PricePoint
    head: PricePoint
    right_shoulder: PricePoint
    neckline_start: PricePoint
    neckline_end: PricePoint
    confirmation: PricePoint | None

    @property
    def confirmed(self) -> bool:
        """Whether a close has gone through the neckline."""
        return self.confirmation is not None

    @property
    def neckline_slope(self) -> float:
        """The neckline's change in price per bar."""
        start, end = self.neckline_start, self.neckline_end
        return (end.price - start.price) / (end.index - start.index)

    def neckline_price(self, index: int) -> float:
        """Return the neckline's price at bar ``index`` (a position in the frame).

        Parameters
        ----------
        index
            The bar's position in the frame, from 0.

        Returns
        -------
        float
            The neckline price, extended beyond its two points as a straight line.
        """
        return self.neckline_start.price + self.neckline_slope * (index - self.neckline_start.index)


def find_head_and_shoulders(
    frame: pd.DataFrame,
    order: int = 5,
    tolerance: float = 0.03,
    *,
    confirmed_only: bool = True,
) -> list[HeadAndShoulders]:
    """Find head-and-shoulders tops.

    Parameters
    ----------
    frame
        A canonical frame (``high``, ``low`` and ``close`` are read).
    order
        The swing order: bars on each side a shoulder or head must strictly beat.
    tolerance
        Largest difference between the shoulders, as a fraction of the left one.
    confirmed_only
        Return only confirmed patterns; otherwise also those still forming
        (neither confirmed nor void at the end of the data).

    Returns
    -------
    list of HeadAndShoulders
        Ordered by the left shoulder.
    """
    return _find(frame, "top", order, tolerance, confirmed_only)


def find_inverse_head_and_shoulders(
    frame: pd.DataFrame,
    order: int = 5,
    tolerance: float = 0.03,
    *,
    confirmed_only: bool = True,
) -> list[HeadAndShoulders]:
    """Find inverse head-and-shoulders bottoms.

    Parameters
    ----------
    frame
        A canonical frame (``high``, ``low`` and ``close`` are read).
    order
        The swing order: bars on each side a shoulder or head must strictly beat.
    tolerance
        Largest difference between the shoulders, as a fraction of the left one.
    confirmed_only
        Return only confirmed patterns; otherwise also those still forming
        (neither confirmed nor void at the end of the data).

    Returns
    -------
    list of HeadAndShoulders
        Ordered by the left shoulder.
    """
    return _find(frame, "bottom", order, tolerance, confirmed_only)


def head_and_shoulders_to_frame(patterns: Sequence[HeadAndShoulders]) -> pd.DataFrame:
    """Turn head-and-shoulders patterns into a frame, one row per pattern.

    Parameters
    ----------
    patterns
        What :func:`find_head_and_shoulders` or
        :func:`find_inverse_head_and_shoulders` returned.

    Returns
    -------
    pandas.DataFrame
        Column ``kind`` and ``index``/``time``/``price`` columns for each shoulder,
        the head, both neckline points and the confirmation.
    """
    return records_to_frame(patterns, HeadAndShoulders)


def _find(
    frame: pd.DataFrame,
    kind: PatternKind,
    order: int,
    tolerance: float,
    confirmed_only: bool,
) -> list[HeadAndShoulders]:
    what = "find_head_and_shoulders" if kind == "top" else "find_inverse_head_and_shoulders"
    order = require_int(order, "order")
    tolerance = require_fraction(tolerance, "tolerance")
    bars = read_bars(frame, ("high", "low", "close"), what=what)
    # Multiplying by the direction turns every bottom test into the top test.
    direction = 1 if kind == "top" else -1
    extreme_column, neckline_column = ("high", "low") if kind == "top" else ("low", "high")
    extreme, opposite = bars[extreme_column], bars[neckline_column]
    oriented_extreme, oriented_opposite = direction * extreme, direction * opposite
    positions = swing_positions(extreme, order, kind="high" if kind == "top" else "low")
    patterns: list[HeadAndShoulders] = []
    for left, head, right in zip(positions, positions[1:], positions[2:], strict=False):
        left, head, right = int(left), int(head), int(right)
        left_price, right_price = float(extreme[left]), float(extreme[right])
        if abs(right_price - left_price) > tolerance * left_price:
            continue
        shoulders_side = np.delete(oriented_extreme[left : right + 1], head - left)
        if oriented_extreme[head] <= np.max(shoulders_side):
            continue
        start = left + 1 + int(np.argmin(oriented_opposite[left + 1 : head]))
        end = head + 1 + int(np.argmin(oriented_opposite[head + 1 : right]))
        if (
            oriented_extreme[left] <= oriented_opposite[start]
            or oriented_extreme[right] <= oriented_opposite[end]
        ):
            continue
        start_price, end_price = float(opposite[start]), float(opposite[end])
        outcome = find_neckline_break(
            bars["close"],
            extreme,
            start=right + order,
            anchor_index=start,
            anchor_price=start_price,
            slope=(end_price - start_price) / (end - start),
            invalidation_price=float(extreme[head]),
            direction=direction,
        )
        if outcome.invalidated or (confirmed_only and outcome.confirmation_index is None):
            continue
        patterns.append(
            HeadAndShoulders(
                kind=kind,
                left_shoulder=bars.point(left, extreme_column),
                head=bars.point(head, extreme_column),
                right_shoulder=bars.point(right, extreme_column),
                neckline_start=bars.point(start, neckline_column),
                neckline_end=bars.point(end, neckline_column),
                confirmation=bars.confirmation_point(outcome.confirmation_index),
            )
        )
    return patterns
