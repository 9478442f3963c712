"""Moving-average crossover: the fast simple average crossing the slow one."""

from __future__ import annotations

import pandas as pd

from quantdesk.errors import InvalidInputError
from quantdesk.indicators import sma
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.crossings import crossed_above, crossed_below
from quantdesk.strategies.parameters import Parameter
from quantdesk.strategies.signals import Signals


class SmaCross(Strategy):
    """Go long when the fast SMA of the close crosses above the slow one; exit on the cross back.

    Crossings are strict, as in backtesting.py's ``crossover``: at bar ``i``
    the fast average was below the slow one on bar ``i - 1`` and is above it
    on bar ``i``. With ``short=True`` a cross down also opens a short (a
    reversal when long) and a cross up closes it, so after the first
    crossing the strategy is always in the market; that is backtesting.py's
    ``SmaCross`` example. Averages are TA-Lib's ``SMA`` of the close.
    """

    name = "sma_cross"
    description = "Long on a fast/slow SMA cross up, out (or short) on the cross down."
    columns = ("close",)

    fast = Parameter(10, minimum=1, description="bars in the fast moving average")
    slow = Parameter(20, minimum=2, description="bars in the slow moving average; above fast")
    short = Parameter(False, description="also sell short on a cross down (always in the market)")

    def validate(self) -> None:
        """Refuse a fast average that is not faster than the slow one."""
        if self.fast >= self.slow:
            raise InvalidInputError(
                f"{self.name}: fast ({self.fast}) must be below slow ({self.slow})"
            )

    @property
    def minimum_bars(self) -> int:
        """The slow average's window plus one bar, the first on which a cross can happen."""
        return self.slow + 1

    def _signals(self, frame: pd.DataFrame) -> Signals:
        fast_average = sma(frame, self.fast).to_numpy()
        slow_average = sma(frame, self.slow).to_numpy()
        cross_up = crossed_above(fast_average, slow_average)
        cross_down = crossed_below(fast_average, slow_average)
        return Signals(
            long_entries=cross_up,
            long_exits=cross_down,
            short_entries=cross_down & self.short,
            short_exits=cross_up & self.short,
        )
