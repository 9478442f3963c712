"""Momentum oscillators: RSI, MACD, stochastic, CCI, Williams %R, ROC and momentum."""

from __future__ import annotations

import pandas as pd

from quantdesk.errors import InvalidInputError
from quantdesk.indicators._talib import (
    HIGH_LOW_CLOSE,
    as_frame,
    call_talib,
    high_low_close_indicator,
    one_input_indicator,
)
from quantdesk.indicators.inputs import PriceData, frame_arrays, price_array, require_int

_SIMPLE_AVERAGE = 0


def rsi(data: PriceData, period: int = 14, *, column: str | None = None) -> pd.Series:
    """Relative strength index, 0 to 100 (TA-Lib ``RSI``, Wilder smoothing).

    Parameters
    ----------
    data
        A canonical frame, or a price series used as it is.
    period
        Bars in the smoothing, at least 2.
    column
        The frame column to read; ``"close"`` by default. Frames only.

    Returns
    -------
    pandas.Series
        Named ``rsi_{period}``, on the input's index; the first ``period`` values are NaN.
    """
    return one_input_indicator("RSI", "rsi", data, period, column, minimum=2)


def macd(
    data: PriceData,
    fast_period: int = 12,
    slow_period: int = 26,
    signal_period: int = 9,
    *,
    column: str | None = None,
) -> pd.DataFrame:
    """Moving average convergence/divergence (TA-Lib ``MACD``).

    Parameters
    ----------
    data
        A canonical frame, or a price series used as it is.
    fast_period
        Bars in the fast EMA, at least 2.
    slow_period
        Bars in the slow EMA, more than ``fast_period``.
    signal_period
        Bars in the EMA of the MACD line, at least 1.
    column
        The frame column to read; ``"close"`` by default. Frames only.

    Returns
    -------
    pandas.DataFrame
        Columns ``macd`` (fast EMA minus slow EMA), ``signal`` (its EMA) and
        ``histogram`` (their difference), on the input's index.
    """
    fast_period = require_int(fast_period, "fast_period", minimum=2)
    slow_period = require_int(slow_period, "slow_period", minimum=2)
    signal_period = require_int(signal_period, "signal_period")
    if fast_period >= slow_period:
        raise InvalidInputError(
            f"fast_period ({fast_period}) must be shorter than slow_period ({slow_period}); "
            "swap them or pick e.g. 12 and 26"
        )
    values = price_array(data, column, what="macd")
    line, signal, histogram = call_talib(
        "MACD",
        (values,),
        {"fastperiod": fast_period, "slowperiod": slow_period, "signalperiod": signal_period},
        what=f"macd({fast_period}, {slow_period}, {signal_period})",
    )
    return as_frame({"macd": line, "signal": signal, "histogram": histogram}, data.index)


def stochastic(
    data: pd.DataFrame, k_period: int = 14, k_smoothing: int = 3, d_period: int = 3
) -> pd.DataFrame:
    """Slow stochastic oscillator, 0 to 100 (TA-Lib ``STOCH`` with simple averages).

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    k_period
        Bars in the high-low range behind the raw %K, at least 1.
    k_smoothing
        Bars in the simple average that smooths raw %K into %K, at least 1.
    d_period
        Bars in the simple average of %K that gives %D, at least 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``k`` and ``d``, on the input's index.
    """
    k_period = require_int(k_period, "k_period")
    k_smoothing = require_int(k_smoothing, "k_smoothing")
    d_period = require_int(d_period, "d_period")
    high, low, close = frame_arrays(data, HIGH_LOW_CLOSE, what="stochastic")
    k, d = call_talib(
        "STOCH",
        (high, low, close),
        {
            "fastk_period": k_period,
            "slowk_period": k_smoothing,
            "slowk_matype": _SIMPLE_AVERAGE,
            "slowd_period": d_period,
            "slowd_matype": _SIMPLE_AVERAGE,
        },
        what=f"stochastic({k_period}, {k_smoothing}, {d_period})",
    )
    return as_frame({"k": k, "d": d}, data.index)


def cci(data: pd.DataFrame, period: int = 14) -> pd.Series:
    """Commodity channel index (TA-Lib ``CCI``) of the typical price.

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        Bars in the average and mean deviation, at least 2.

    Returns
    -------
    pandas.Series
        Named ``cci_{period}``, on the input's index.
    """
    return high_low_close_indicator("CCI", "cci", data, period, minimum=2)


def williams_r(data: pd.DataFrame, period: int = 14) -> pd.Series:
    """Williams %R, -100 to 0 (TA-Lib ``WILLR``).

    Parameters
    ----------
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        Bars in the high-low range, at least 2.

    Returns
    -------
    pandas.Series
        Named ``williams_r_{period}``, on the input's index.
    """
    return high_low_close_indicator("WILLR", "williams_r", data, period, minimum=2)


def roc(data: PriceData, period: int = 10, *, column: str | None = None) -> pd.Series:
    """Rate of change in percent, ``100 * (price / price period bars ago - 1)`` (TA-Lib ``ROC``).

    Parameters
    ----------
    data
        A canonical frame, or a price series used as it is.
    period
        Bars back to compare with, at least 1.
    column
        The frame column to read; ``"close"`` by default. Frames only.

    Returns
    -------
    pandas.Series
        Named ``roc_{period}``, on the input's index; the first ``period`` values are NaN.
    """
    return one_input_indicator("ROC", "roc", data, period, column)


def momentum(data: PriceData, period: int = 10, *, column: str | None = None) -> pd.Series:
    """Momentum, ``price - price period bars ago`` (TA-Lib ``MOM``).

    Parameters
    ----------
    data
        A canonical frame, or a price series used as it is.
    period
        Bars back to compare with, at least 1.
    column
        The frame column to read; ``"close"`` by default. Frames only.

    Returns
    -------
    pandas.Series
        Named ``momentum_{period}``, on the input's index; the first ``period`` values are NaN.
    """
    return one_input_indicator("MOM", "momentum", data, period, column)
