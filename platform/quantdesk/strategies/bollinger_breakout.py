"""Bollinger breakout: follow a close out of the bands until it returns to the middle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantdesk.indicators import bollinger_bands
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.crossings import crossed_above, crossed_below
from quantdesk.strategies.parameters import Parameter
from quantdesk.strategies.signals import Signals


class BollingerBreakout(Strategy):
    """Go long when the close crosses above the upper band; exit at or below the middle band.

    With ``short=True``, also sell short when the close crosses below the
    lower band and cover at or above the middle band. Entries are strict
    crossings (see :mod:`quantdesk.strategies.crossings`), so a close that is
    already outside the bands when they first exist is not an entry. Bands
    are TA-Lib's ``BBANDS`` around a simple average of the close.
    """

    name = "bollinger_breakout"
    description = (
        "Long on a close above the upper Bollinger band, out at the middle; optional shorts."
    )
    columns = ("close",)

    period = Parameter(20, minimum=2, description="bars in the average and standard deviation")
    deviations = Parameter(
        2.0, minimum=0.1, maximum=10.0, description="band width in standard deviations"
    )
    short = Parameter(False, description="also sell short below the lower band")

    @property
    def minimum_bars(self) -> int:
        """The bands' window plus one bar, the first on which a crossing can happen."""
        return self.period + 1

    def _signals(self, frame: pd.DataFrame) -> Signals:
        bands = bollinger_bands(frame, self.period, self.deviations)
        close = frame["close"].to_numpy(dtype=np.float64)
        middle = bands["middle"].to_numpy()
        long_entries = crossed_above(close, bands["upper"].to_numpy())
        short_entries = crossed_below(close, bands["lower"].to_numpy()) & self.short
        long_exits = close <= middle
        short_exits = (close >= middle) & self.short
        return Signals(long_entries, long_exits, short_entries, short_exits)
