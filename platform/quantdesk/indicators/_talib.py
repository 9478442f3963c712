"""Call TA-Lib functions by name after checking that the data is long enough."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import talib
from talib.abstract import Function  # type: ignore[attr-defined]  # the stubs omit it

from quantdesk.errors import InvalidInputError
from quantdesk.indicators.inputs import PriceData, frame_arrays, price_array, require_int
from quantdesk.indicators.reuse import keep_outputs, reused_outputs

HIGH_LOW_CLOSE: tuple[str, ...] = ("high", "low", "close")


def lookback(function_name: str, parameters: Mapping[str, float]) -> int:
    """Return how many leading bars TA-Lib leaves empty for these parameters.

    Parameters
    ----------
    function_name
        The TA-Lib function, for example ``"RSI"``.
    parameters
        Its parameters by TA-Lib name, for example ``{"timeperiod": 14}``.

    Returns
    -------
    int
        The number of leading NaN outputs.
    """
    function = Function(function_name)
    function.set_parameters(**parameters)
    return int(function.lookback)


def call_talib(
    function_name: str,
    inputs: tuple[np.ndarray, ...],
    parameters: Mapping[str, float],
    *,
    what: str,
) -> tuple[np.ndarray, ...]:
    """Run one TA-Lib function on float64 arrays, refusing data too short for it.

    Parameters
    ----------
    function_name
        The TA-Lib function, for example ``"MACD"``.
    inputs
        Its input arrays in TA-Lib's order, all of one length.
    parameters
        Its parameters by TA-Lib name.
    what
        The indicator's readable name and parameters, for the message.

    Returns
    -------
    tuple of numpy.ndarray
        Every output of the function, in TA-Lib's order.

    Raises
    ------
    InvalidInputError
        When the data has no more bars than the function's lookback, so that
        every output would be NaN.
    """
    length = len(inputs[0])
    empty_bars = lookback(function_name, parameters)
    if length <= empty_bars:
        raise InvalidInputError(
            f"{what} needs at least {empty_bars + 1} bars, the data has {length}; "
            "use a shorter period or pass more bars"
        )
    kept, key = reused_outputs(function_name, inputs, parameters)
    if kept is not None:
        return kept
    result = getattr(talib, function_name)(*inputs, **parameters)
    outputs = (result,) if isinstance(result, np.ndarray) else tuple(result)
    return outputs if key is None else keep_outputs(key, inputs, outputs)


def as_series(values: np.ndarray, index: pd.Index, name: str) -> pd.Series:
    """Wrap one output array as a float64 series on the input's index.

    Parameters
    ----------
    values
        The output array.
    index
        The index of the input data.
    name
        The series name.

    Returns
    -------
    pandas.Series
        The aligned series.
    """
    # No copy: the array is a new TA-Lib output or a read-only reused one.
    return pd.Series(values, index=index, name=name, dtype=np.float64, copy=False)


def as_frame(outputs: Mapping[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """Wrap named output arrays as a float64 frame on the input's index.

    Parameters
    ----------
    outputs
        Column name to output array, in column order.
    index
        The index of the input data.

    Returns
    -------
    pandas.DataFrame
        The aligned frame.
    """
    return pd.DataFrame(dict(outputs), index=index, dtype=np.float64)


def one_input_indicator(
    function_name: str,
    name: str,
    data: PriceData,
    period: int,
    column: str | None,
    *,
    minimum: int = 1,
) -> pd.Series:
    """Run a TA-Lib function of one price array and one ``timeperiod``.

    Parameters
    ----------
    function_name
        The TA-Lib function, for example ``"SMA"``.
    name
        The readable name; the result is named ``{name}_{period}``.
    data
        A frame, or a series used as it is.
    period
        The caller's period, checked against ``minimum``.
    column
        The frame column to read; ``None`` means ``"close"``.
    minimum
        The smallest period TA-Lib accepts for this function.

    Returns
    -------
    pandas.Series
        The aligned, named result.
    """
    period = require_int(period, "period", minimum=minimum)
    values = price_array(data, column, what=name)
    (result,) = call_talib(
        function_name, (values,), {"timeperiod": period}, what=f"{name}(period={period})"
    )
    return as_series(result, data.index, f"{name}_{period}")


def high_low_close_indicator(
    function_name: str, name: str, data: pd.DataFrame, period: int, *, minimum: int = 1
) -> pd.Series:
    """Run a TA-Lib function of high, low and close and one ``timeperiod``.

    Parameters
    ----------
    function_name
        The TA-Lib function, for example ``"ATR"``.
    name
        The readable name; the result is named ``{name}_{period}``.
    data
        A frame with ``high``, ``low`` and ``close``.
    period
        The caller's period, checked against ``minimum``.
    minimum
        The smallest period TA-Lib accepts for this function.

    Returns
    -------
    pandas.Series
        The aligned, named result.
    """
    period = require_int(period, "period", minimum=minimum)
    high, low, close = frame_arrays(data, HIGH_LOW_CLOSE, what=name)
    (result,) = call_talib(
        function_name, (high, low, close), {"timeperiod": period}, what=f"{name}(period={period})"
    )
    return as_series(result, data.index, f"{name}_{period}")
