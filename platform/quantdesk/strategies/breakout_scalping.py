"""Breakout scalping: a loud break of the recent range, with ATR stop and target and a time exit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantdesk.indicators import atr, sma
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.parameters import Parameter
from quantdesk.strategies.signals import Signals


class BreakoutScalping(Strategy):
    """Buy a close above the recent highest high on high volume; exit by stop, target or time.

    Bar ``i`` breaks out upward when its close is above the highest high of
    bars ``i - lookback`` to ``i - 1`` and its volume is above
    ``volume_factor`` times their mean volume (``volume_factor=0`` drops the
    volume test). Each position gets a stop ``stop_atr`` ATRs and a target
    ``target_atr`` ATRs from its entry price, ATR taken on the signal bar,
    and is closed after ``maximum_bars_held`` bars; the engine applies all
    three. With ``short=True``, a close below the previous bars' lowest low
    on high volume sells short. There are no signal exits.
    """

    name = "breakout_scalping"
    description = "Range breakout on high volume with an ATR stop, ATR target and a time exit."
    columns = ("high", "low", "close", "volume")

    lookback = Parameter(20, minimum=1, description="bars in the range that must be broken")
    volume_factor = Parameter(
        1.5,
        minimum=0.0,
        description="breakout volume must exceed this multiple of the range's mean (0: any)",
    )
    atr_period = Parameter(14, minimum=1, description="bars in the ATR")
    stop_atr = Parameter(1.0, minimum=0.01, description="stop distance in ATRs from the entry")
    target_atr = Parameter(2.0, minimum=0.01, description="take-profit distance in ATRs")
    maximum_bars_held = Parameter(
        10, minimum=1, description="close a position after this many bars"
    )
    short = Parameter(False, description="also sell short on a downward breakout")

    @property
    def minimum_bars(self) -> int:
        """One bar past the longer of the range and the ATR warm-up."""
        return max(self.lookback, self.atr_period) + 1

    def _signals(self, frame: pd.DataFrame) -> Signals:
        close = frame["close"].to_numpy(dtype=np.float64)
        volume = frame["volume"].to_numpy(dtype=np.float64)
        # Range statistics cover bars i - lookback .. i - 1, hence the shift by one bar.
        range_high = frame["high"].rolling(self.lookback).max().shift(1).to_numpy()
        range_low = frame["low"].rolling(self.lookback).min().shift(1).to_numpy()
        if self.volume_factor > 0:
            mean_volume = sma(frame, self.lookback, column="volume").shift(1).to_numpy()
            loud = volume > self.volume_factor * mean_volume
        else:
            loud = np.ones(len(frame), dtype=np.bool_)
        long_entries = (close > range_high) & loud
        short_entries = (close < range_low) & loud & self.short
        no_exits = np.zeros(len(frame), dtype=np.bool_)
        average_range = atr(frame, self.atr_period).to_numpy()
        positive = average_range > 0
        return Signals(
            long_entries=long_entries,
            long_exits=no_exits,
            short_entries=short_entries,
            short_exits=no_exits.copy(),
            stop_distances=np.where(positive, self.stop_atr * average_range, np.nan),
            target_distances=np.where(positive, self.target_atr * average_range, np.nan),
            maximum_bars_held=self.maximum_bars_held,
        )
