"""Technical indicators on the canonical OHLCV frame, computed by TA-Lib.

Every indicator takes the data first and returns a pandas ``Series`` or
``DataFrame`` on the same index, with readable names (``rsi_14``; ``macd`` has
columns ``macd``, ``signal`` and ``histogram``). Single-input indicators accept
a frame, reading ``column`` (``"close"`` by default), or a series used as it is.
Leading values that TA-Lib cannot compute yet are NaN. Parameters are checked
up front; data with no more bars than the indicator's warm-up is refused.

>>> from quantdesk.indicators import rsi, compute_indicator
>>> rsi(frame, period=14)                        # doctest: +SKIP
>>> compute_indicator(frame, "macd", fast_period=8)  # doctest: +SKIP
"""

from __future__ import annotations

from quantdesk.indicators.momentum import cci, macd, momentum, roc, rsi, stochastic, williams_r
from quantdesk.indicators.moving_averages import ema, sma, wma
from quantdesk.indicators.registry import (
    INDICATORS,
    IndicatorFunction,
    compute_indicator,
    parameter_names,
)
from quantdesk.indicators.reuse import reusing_indicator_values
from quantdesk.indicators.trend import adx, directional_movement, minus_di, plus_di
from quantdesk.indicators.volatility import atr, bollinger_bands, natr
from quantdesk.indicators.volume import mfi, obv

__all__ = [
    "INDICATORS",
    "IndicatorFunction",
    "adx",
    "atr",
    "bollinger_bands",
    "cci",
    "compute_indicator",
    "directional_movement",
    "ema",
    "macd",
    "mfi",
    "minus_di",
    "momentum",
    "natr",
    "obv",
    "parameter_names",
    "plus_di",
    "reusing_indicator_values",
    "roc",
    "rsi",
    "sma",
    "stochastic",
    "williams_r",
    "wma",
]
