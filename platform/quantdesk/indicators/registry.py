"""Indicators by readable name, for callers that pick them at run time."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.indicators.inputs import PriceData
from quantdesk.indicators.momentum import cci, macd, momentum, roc, rsi, stochastic, williams_r
from quantdesk.indicators.moving_averages import ema, sma, wma
from quantdesk.indicators.trend import adx, directional_movement, minus_di, plus_di
from quantdesk.indicators.volatility import atr, bollinger_bands, natr
from quantdesk.indicators.volume import mfi, obv

IndicatorFunction = Callable[..., pd.Series | pd.DataFrame]
"""An indicator: takes the data first, then keyword parameters; returns aligned output."""

INDICATORS: Mapping[str, IndicatorFunction] = MappingProxyType(
    {
        "sma": sma,
        "ema": ema,
        "wma": wma,
        "rsi": rsi,
        "macd": macd,
        "stochastic": stochastic,
        "cci": cci,
        "williams_r": williams_r,
        "roc": roc,
        "momentum": momentum,
        "bollinger_bands": bollinger_bands,
        "atr": atr,
        "natr": natr,
        "adx": adx,
        "plus_di": plus_di,
        "minus_di": minus_di,
        "directional_movement": directional_movement,
        "obv": obv,
        "mfi": mfi,
    }
)
"""Every indicator by its readable name; read-only."""


def compute_indicator(data: PriceData, name: str, **parameters: Any) -> pd.Series | pd.DataFrame:
    """Compute an indicator chosen by name.

    Parameters
    ----------
    data
        A canonical frame (or a series, for the single-input indicators).
    name
        A key of :data:`INDICATORS`, for example ``"rsi"``.
    **parameters
        The indicator's keyword parameters, for example ``period=14``.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        What the indicator returns, aligned to ``data``.

    Raises
    ------
    UnknownNameError
        When no indicator or no parameter has that name; the message names close matches.
    InvalidInputError
        When a parameter value or the data is unusable.
    """
    if not isinstance(name, str):
        raise InvalidInputError(f"indicator name must be text such as 'rsi', got {name!r}")
    function = INDICATORS.get(name)
    if function is None:
        raise UnknownNameError("indicator", name, INDICATORS)
    accepted = parameter_names(name)
    for key in parameters:
        if key not in accepted:
            if not accepted:
                raise InvalidInputError(f"indicator {name!r} takes no parameters, got {key!r}")
            raise UnknownNameError(f"{name} parameter", key, accepted)
    return function(data, **parameters)


@functools.cache
def parameter_names(name: str) -> tuple[str, ...]:
    """Return the keyword parameters an indicator takes, after its data.

    Parameters
    ----------
    name
        A key of :data:`INDICATORS`.

    Returns
    -------
    tuple of str
        The parameter names in signature order.

    Raises
    ------
    UnknownNameError
        When no indicator has that name.
    """
    function = INDICATORS.get(name)
    if function is None:
        raise UnknownNameError("indicator", name, INDICATORS)
    parameters = list(inspect.signature(function).parameters.values())[1:]
    return tuple(parameter.name for parameter in parameters)
