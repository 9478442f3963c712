"""RSI mean reversion: buy the turn out of oversold, sell when RSI has recovered."""

from __future__ import annotations

import pandas as pd

from quantdesk.errors import InvalidInputError
from quantdesk.indicators import rsi
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.crossings import crossed_above, crossed_below
from quantdesk.strategies.parameters import Parameter
from quantdesk.strategies.signals import Signals


class RsiReversion(Strategy):
    """Buy when RSI crosses up through the oversold level; exit when it crosses above exit_level.

    Set ``exit_level`` to the overbought level to hold until RSI is
    overbought. With ``short=True`` the mirror image trades too: sell short
    when RSI crosses down through the overbought level, cover when it
    crosses below ``100 - exit_level``. Crossings are strict (see
    :mod:`quantdesk.strategies.crossings`); RSI is TA-Lib's, with Wilder
    smoothing.
    """

    name = "rsi_reversion"
    description = "Long when RSI turns up out of oversold, out when it recovers; optional shorts."
    columns = ("close",)

    period = Parameter(14, minimum=2, description="bars in the RSI")
    oversold = Parameter(30.0, minimum=0.0, maximum=100.0, description="RSI level to buy above")
    overbought = Parameter(
        70.0, minimum=0.0, maximum=100.0, description="RSI level to sell short below"
    )
    exit_level = Parameter(
        50.0, minimum=0.0, maximum=100.0, description="RSI level to exit a long above"
    )
    short = Parameter(False, description="also trade the short side, mirrored")

    def validate(self) -> None:
        """Keep the levels in order: oversold below both exit_level and overbought."""
        if self.oversold >= self.exit_level:
            raise InvalidInputError(
                f"{self.name}: oversold ({self.oversold}) must be below "
                f"exit_level ({self.exit_level})"
            )
        if self.oversold >= self.overbought:
            raise InvalidInputError(
                f"{self.name}: oversold ({self.oversold}) must be below "
                f"overbought ({self.overbought})"
            )
        if self.short and self.short_exit_level >= self.overbought:
            raise InvalidInputError(
                f"{self.name}: with short=True the short exit 100 - exit_level "
                f"({self.short_exit_level}) must be below overbought ({self.overbought})"
            )

    @property
    def short_exit_level(self) -> float:
        """The RSI level a short is covered below: ``exit_level`` mirrored, ``100 - exit_level``."""
        return 100.0 - self.exit_level

    @property
    def minimum_bars(self) -> int:
        """RSI's warm-up (``period`` bars) plus two RSI values to see a crossing."""
        return self.period + 2

    def _signals(self, frame: pd.DataFrame) -> Signals:
        strength = rsi(frame, self.period).to_numpy()
        long_entries = crossed_above(strength, self.oversold)
        long_exits = crossed_above(strength, self.exit_level)
        short_entries = crossed_below(strength, self.overbought) & self.short
        short_exits = crossed_below(strength, self.short_exit_level) & self.short
        return Signals(long_entries, long_exits, short_entries, short_exits)
