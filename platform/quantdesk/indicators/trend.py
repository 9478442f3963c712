"""Trend strength: the average directional index and the directional indicators."""

from __future__ import annotations

import pandas as pd

from quantdesk.indicators._talib import (
    HIGH_LOW_CLOSE,
    as_frame,
    call_talib,
    high_low_close_indicator,
)
from quantdesk.indicators.inputs import frame_arrays, require_int


def adx(data: pd.DataFrame, period: int = 14) -> pd.Series:
    """Average directional index, 0 to 100 (TA-Lib ``ADX``).

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        Bars in the smoothing, at least 2. The first ``2 * period - 1`` values are NaN.

    Returns
    -------
    pandas.Series
        Named ``adx_{period}``, on the input's index.
    """
    return high_low_close_indicator("ADX", "adx", data, period, minimum=2)


def plus_di(data: pd.DataFrame, period: int = 14) -> pd.Series:
    """Plus directional indicator, +DI (TA-Lib ``PLUS_DI``).

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        Bars in the smoothing, at least 1.

    Returns
    -------
    pandas.Series
        Named ``plus_di_{period}``, on the input's index.
    """
    return high_low_close_indicator("PLUS_DI", "plus_di", data, period)


def minus_di(data: pd.DataFrame, period: int = 14) -> pd.Series:
    """Minus directional indicator, -DI (TA-Lib ``MINUS_DI``).

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        Bars in the smoothing, at least 1.

    Returns
    -------
    pandas.Series
        Named ``minus_di_{period}``, on the input's index.
    """
    return high_low_close_indicator("MINUS_DI", "minus_di", data, period)


def directional_movement(data: pd.DataFrame, period: int = 14) -> pd.DataFrame:
    """ADX with +DI and -DI over one period, side by side.

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        Bars in the smoothing, at least 2.

    Returns
    -------
    pandas.DataFrame
        Columns ``adx``, ``plus_di`` and ``minus_di``, on the input's index.
    """
    period = require_int(period, "period", minimum=2)
    arrays = frame_arrays(data, HIGH_LOW_CLOSE, what="directional_movement")
    parameters = {"timeperiod": period}
    what = f"directional_movement(period={period})"
    (strength,) = call_talib("ADX", arrays, parameters, what=what)
    (plus,) = call_talib("PLUS_DI", arrays, parameters, what=what)
    (minus,) = call_talib("MINUS_DI", arrays, parameters, what=what)
    return as_frame({"adx": strength, "plus_di": plus, "minus_di": minus}, data.index)
