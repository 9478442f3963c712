"""Double tops and double bottoms.

A double top is two swing highs (see :mod:`quantdesk.patterns.swings`) whose
prices differ by at most ``tolerance`` of the first, with every bar between
them lower than the higher one and a trough between them at least ``minimum_depth`` below
the lower peak. The second peak is the first later swing high that comes back
to within ``tolerance`` of the first; lower swing highs in between are passed
over, and one beyond the band ends the search. The trough's low is the
neckline. The pattern is confirmed by the first close below the neckline from
the bar that confirms the second swing onward, and void if a high rises
above both peaks first. Double bottoms mirror all of this.
"""

from __future__ import annotations

import bisect
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
class DoubleExtreme:
    """A double top or double bottom.

    Attributes
    ----------
    kind
        ``"top"`` or ``"bottom"``.
    first, second
        The two swing extremes (highs for a top, lows for a bottom).
    neckline
        The lowest low between two tops, or the highest high between two bottoms.
    confirmation
        The bar whose close confirmed the pattern (its close as the price), or
        ``None`` while the pattern is still forming.
    """

    kind: PatternKind
    first: PricePoint
    second: PricePoint
    neckline: PricePoint
    confirmation: PricePoint | None

    @property
    def confirmed(self) -> bool:
        """Whether a close has gone through the neckline."""
        return self.confirmation is not None


def find_double_tops(
    frame: pd.DataFrame,
    order: int = 5,
    tolerance: float = 0.02,
    minimum_depth: float = 0.02,
    *,
    confirmed_only: bool = True,
) -> list[DoubleExtreme]:
    """Find double tops.

    Parameters
    ----------
    frame
        A canonical frame (``high``, ``low`` and ``close`` are read).
    order
        The swing order: bars on each side a peak must strictly beat.
    tolerance
        Largest difference between the peaks, as a fraction of the first (0.02 is 2 %).
    minimum_depth
        Smallest drop from the lower peak to the trough, as a fraction of that peak.
    confirmed_only
        Return only confirmed patterns; otherwise also those still forming
        (neither confirmed nor void at the end of the data).

    Returns
    -------
    list of DoubleExtreme
        Ordered by the first peak.
    """
    return _find(frame, "top", order, tolerance, minimum_depth, confirmed_only)


def find_double_bottoms(
    frame: pd.DataFrame,
    order: int = 5,
    tolerance: float = 0.02,
    minimum_depth: float = 0.02,
    *,
    confirmed_only: bool = True,
) -> list[DoubleExtreme]:
    """Find double bottoms.

    Parameters
    ----------
    frame
        A canonical frame (``high``, ``low`` and ``close`` are read).
    order
        The swing order: bars on each side a trough must strictly beat.
    tolerance
        Largest difference between the troughs, as a fraction of the first (0.02 is 2 %).
    minimum_depth
        Smallest rise from the higher trough to the peak between, as a fraction of that trough.
    confirmed_only
        Return only confirmed patterns; otherwise also those still forming
        (neither confirmed nor void at the end of the data).

    Returns
    -------
    list of DoubleExtreme
        Ordered by the first trough.
    """
    return _find(frame, "bottom", order, tolerance, minimum_depth, confirmed_only)


def double_extremes_to_frame(patterns: Sequence[DoubleExtreme]) -> pd.DataFrame:
    """Turn double tops or bottoms into a frame, one row per pattern.

    Parameters
    ----------
    patterns
        What :func:`find_double_tops` or :func:`find_double_bottoms` returned.

    Returns
    -------
    pandas.DataFrame
        Column ``kind`` and ``index``/``time``/``price`` columns for ``first``,
        ``second``, ``neckline`` and ``confirmation``.
    """
    return records_to_frame(patterns, DoubleExtreme)


def _find(
    frame: pd.DataFrame,
    kind: PatternKind,
    order: int,
    tolerance: float,
    minimum_depth: float,
    confirmed_only: bool,
) -> list[DoubleExtreme]:
    what = "find_double_tops" if kind == "top" else "find_double_bottoms"
    order = require_int(order, "order")
    tolerance = require_fraction(tolerance, "tolerance")
    minimum_depth = require_fraction(minimum_depth, "minimum_depth")
    bars = read_bars(frame, ("high", "low", "close"), what=what)
    # Multiplying by the direction turns every bottom test into the top test.
    direction = 1 if kind == "top" else -1
    extreme_column, neckline_column = ("high", "low") if kind == "top" else ("low", "high")
    extreme, opposite = bars[extreme_column], bars[neckline_column]
    positions = swing_positions(extreme, order, kind="high" if kind == "top" else "low")
    prices = extreme[positions]
    oriented = direction * prices
    partners = _first_reaching(oriented, oriented - tolerance * prices)
    patterns: list[DoubleExtreme] = []
    for number, partner in enumerate(partners):
        if partner < 0:
            continue
        first, second = int(positions[number]), int(positions[partner])
        first_price, second_price = float(prices[number]), float(prices[partner])
        if abs(second_price - first_price) > tolerance * first_price:
            continue
        nearer = min(direction * first_price, direction * second_price)
        farther = max(direction * first_price, direction * second_price)
        if np.max(direction * extreme[first + 1 : second]) >= farther:
            continue
        neckline = first + 1 + int(np.argmin(direction * opposite[first + 1 : second]))
        depth = (nearer - direction * opposite[neckline]) / abs(nearer)
        if depth < minimum_depth:
            continue
        outcome = find_neckline_break(
            bars["close"],
            extreme,
            start=second + order,
            anchor_index=neckline,
            anchor_price=float(opposite[neckline]),
            slope=0.0,
            invalidation_price=direction * farther,
            direction=direction,
        )
        if outcome.invalidated or (confirmed_only and outcome.confirmation_index is None):
            continue
        patterns.append(
            DoubleExtreme(
                kind=kind,
                first=bars.point(first, extreme_column),
                second=bars.point(second, extreme_column),
                neckline=bars.point(neckline, neckline_column),
                confirmation=bars.confirmation_point(outcome.confirmation_index),
            )
        )
    return patterns


def _first_reaching(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each position, find the nearest later position whose value reaches its threshold.

    Parameters
    ----------
    values
        The values to search.
    thresholds
        One threshold per value.

    Returns
    -------
    numpy.ndarray
        ``int64``: for each ``i`` the smallest ``j > i`` with
        ``values[j] >= thresholds[i]``, or -1 when there is none.
    """
    answers = np.full(len(values), -1, dtype=np.int64)
    # The stack holds, nearest last, the positions after i that beat every value
    # before them; their negated values therefore ascend from bottom to top.
    stack_positions: list[int] = []
    stack_negated: list[float] = []
    for position in range(len(values) - 1, -1, -1):
        reach = bisect.bisect_right(stack_negated, -float(thresholds[position]))
        if reach:
            answers[position] = stack_positions[reach - 1]
        value = float(values[position])
        while stack_negated and -stack_negated[-1] <= value:
            stack_negated.pop()
            stack_positions.pop()
        stack_positions.append(position)
        stack_negated.append(-value)
    return answers
