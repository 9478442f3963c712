"""Pattern detection on the canonical OHLCV frame.

Candlestick patterns come from TA-Lib under readable names
(:func:`candlestick_pattern`, :func:`candlestick_patterns`). Chart patterns
are detected here from confirmed swing points: swing highs and lows, support
and resistance levels, range breakouts, double tops and bottoms, and
head-and-shoulders tops and bottoms. Detectors return lists of frozen
records with bar positions, times and prices; the ``*_to_frame`` helpers turn
those lists into frames. Swings, breakouts, double extremes and
head-and-shoulders never read a bar after the one they report as the time the
finding became known (``confirmation_index``, or the breakout bar); levels
summarise the whole frame.

>>> from quantdesk.patterns import candlestick_pattern, find_double_bottoms
>>> candlestick_pattern(frame, "engulfing")     # doctest: +SKIP
>>> find_double_bottoms(frame, order=5)         # doctest: +SKIP
"""

from __future__ import annotations

from quantdesk.patterns.breakouts import Breakout, breakouts_to_frame, find_breakouts
from quantdesk.patterns.candlestick import (
    CANDLESTICK_PATTERNS,
    candlestick_pattern,
    candlestick_patterns,
)
from quantdesk.patterns.double_extremes import (
    DoubleExtreme,
    double_extremes_to_frame,
    find_double_bottoms,
    find_double_tops,
)
from quantdesk.patterns.head_and_shoulders import (
    HeadAndShoulders,
    find_head_and_shoulders,
    find_inverse_head_and_shoulders,
    head_and_shoulders_to_frame,
)
from quantdesk.patterns.levels import PriceLevel, find_levels, levels_to_frame
from quantdesk.patterns.records import PricePoint, records_to_frame
from quantdesk.patterns.swings import (
    SwingPoint,
    find_swings,
    swing_highs,
    swing_lows,
    swing_positions,
    swings_to_frame,
)

__all__ = [
    "CANDLESTICK_PATTERNS",
    "Breakout",
    "DoubleExtreme",
    "HeadAndShoulders",
    "PriceLevel",
    "PricePoint",
    "SwingPoint",
    "breakouts_to_frame",
    "candlestick_pattern",
    "candlestick_patterns",
    "double_extremes_to_frame",
    "find_breakouts",
    "find_double_bottoms",
    "find_double_tops",
    "find_head_and_shoulders",
    "find_inverse_head_and_shoulders",
    "find_levels",
    "find_swings",
    "head_and_shoulders_to_frame",
    "levels_to_frame",
    "records_to_frame",
    "swing_highs",
    "swing_lows",
    "swing_positions",
    "swings_to_frame",
]
