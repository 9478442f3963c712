"""Volatility: Bollinger bands, average true range and its normalised form."""

from __future__ import annotations

import pandas as pd

from quantdesk.indicators._talib import as_frame, call_talib, high_low_close_indicator
from quantdesk.indicators.inputs import (
    PriceData,
    price_array,
    require_int,
    require_positive_float,
)

_SIMPLE_AVERAGE = 0


def bollinger_bands(
    data: PriceData,
    period: int = 20,
    deviations: float = 2.0,
    *,
    column: str | None = None,
) -> pd.DataFrame:
    """Bollinger bands around a simple moving average (TA-Lib ``BBANDS``).

    Parameters
    ----------
    data
        A canonical frame, or a price series used as it is.
    period
        Bars in the average and the standard deviation, at least 2.
    deviations
        Width of each band in population standard deviations, above 0.
    column
        The frame column to read; ``"close"`` by default. Frames only.

    Returns
    -------
    pandas.DataFrame
        Columns ``upper``, ``middle`` (the average) and ``lower``, on the input's index.
    """
    period = require_int(period, "period", minimum=2)
    deviations = require_positive_float(deviations, "deviations")
    values = price_array(data, column, what="bollinger_bands")
    upper, middle, lower = call_talib(
        "BBANDS",
        (values,),
        {
            "timeperiod": period,
            "nbdevup": deviations,
            "nbdevdn": deviations,
            "matype": _SIMPLE_AVERAGE,
        },
        what=f"bollinger_bands(period={period})",
    )
    return as_frame({"upper": upper, "middle": middle, "lower": lower}, data.index)


def atr(data: pd.DataFrame, period: int = 14) -> pd.Series:
    """Average true range with Wilder smoothing (TA-Lib ``ATR``), in price units.

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        Bars in the smoothing, at least 1.

    Returns
    -------
    pandas.Series
        Named ``atr_{period}``, on the input's index; the first ``period`` values are NaN.
    """
    return high_low_close_indicator("ATR", "atr", data, period)


def natr(data: pd.DataFrame, period: int = 14) -> pd.Series:
    """Normalised average true range, ``100 * ATR / close`` (TA-Lib ``NATR``).

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        Bars in the smoothing, at least 1.

    Returns
    -------
    pandas.Series
        Named ``natr_{period}``, in percent of the close, on the input's index.
    """
    return high_low_close_indicator("NATR", "natr", data, period)
