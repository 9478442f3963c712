"""Moving averages of one price column: simple, exponential and weighted."""

from __future__ import annotations

import pandas as pd

from quantdesk.indicators._talib import one_input_indicator
from quantdesk.indicators.inputs import PriceData


def sma(data: PriceData, period: int = 20, *, column: str | None = None) -> pd.Series:
    """Simple moving average (TA-Lib ``SMA``).

    Parameters
    ----------
    data
        A canonical frame, or a price series used as it is.
    period
        Bars in the average, at least 1.
    column
        The frame column to average; ``"close"`` by default. Frames only.

    Returns
    -------
    pandas.Series
        Named ``sma_{period}``, on the input's index; the first ``period - 1`` values are NaN.
    """
    return one_input_indicator("SMA", "sma", data, period, column)


def ema(data: PriceData, period: int = 20, *, column: str | None = None) -> pd.Series:
    """Exponential moving average (TA-Lib ``EMA``, seeded with the first SMA).

    Parameters
    ----------
    data
        A canonical frame, or a price series used as it is.
    period
        Bars in the average, at least 1; the smoothing factor is ``2 / (period + 1)``.
    column
        The frame column to average; ``"close"`` by default. Frames only.

    Returns
    -------
    pandas.Series
        Named ``ema_{period}``, on the input's index; the first ``period - 1`` values are NaN.
    """
    return one_input_indicator("EMA", "ema", data, period, column)


def wma(data: PriceData, period: int = 20, *, column: str | None = None) -> pd.Series:
    """Linearly weighted moving average (TA-Lib ``WMA``); the newest bar weighs most.

    Parameters
    ----------
    data
        A canonical frame, or a price series used as it is.
    period
        Bars in the average, at least 1.
    column
        The frame column to average; ``"close"`` by default. Frames only.

    Returns
    -------
    pandas.Series
        Named ``wma_{period}``, on the input's index; the first ``period - 1`` values are NaN.
    """
    return one_input_indicator("WMA", "wma", data, period, column)
