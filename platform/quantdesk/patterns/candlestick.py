"""TA-Lib's candlestick patterns under readable names.

Every pattern reads ``open``, ``high``, ``low`` and ``close`` and marks each bar
where it completes. TA-Lib reports +100/-100 (and +200/-200 for a confirmed
hikkake); this module keeps only the sign, as ``int8``: ``1`` bullish, ``-1``
bearish and ``0`` no pattern. TA-Lib reports the patterns that carry no
direction (``doji``, ``dragonfly_doji``, ``gravestone_doji``,
``long_legged_doji``, ``rickshaw_man``) as +100, so they show as ``1``: read
that as "present", not "bullish". Patterns with a penetration parameter
(morning and evening stars, abandoned baby, dark cloud cover, mat hold) use
TA-Lib's default penetration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
import talib

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.indicators.inputs import frame_arrays

CANDLESTICK_PATTERNS: Mapping[str, str] = MappingProxyType(
    {
        "two_crows": "CDL2CROWS",
        "three_black_crows": "CDL3BLACKCROWS",
        "three_inside": "CDL3INSIDE",
        "three_line_strike": "CDL3LINESTRIKE",
        "three_outside": "CDL3OUTSIDE",
        "three_stars_in_the_south": "CDL3STARSINSOUTH",
        "three_white_soldiers": "CDL3WHITESOLDIERS",
        "abandoned_baby": "CDLABANDONEDBABY",
        "advance_block": "CDLADVANCEBLOCK",
        "belt_hold": "CDLBELTHOLD",
        "breakaway": "CDLBREAKAWAY",
        "closing_marubozu": "CDLCLOSINGMARUBOZU",
        "concealing_baby_swallow": "CDLCONCEALBABYSWALL",
        "counterattack": "CDLCOUNTERATTACK",
        "dark_cloud_cover": "CDLDARKCLOUDCOVER",
        "doji": "CDLDOJI",
        "doji_star": "CDLDOJISTAR",
        "dragonfly_doji": "CDLDRAGONFLYDOJI",
        "engulfing": "CDLENGULFING",
        "evening_doji_star": "CDLEVENINGDOJISTAR",
        "evening_star": "CDLEVENINGSTAR",
        "gap_side_by_side_white_lines": "CDLGAPSIDESIDEWHITE",
        "gravestone_doji": "CDLGRAVESTONEDOJI",
        "hammer": "CDLHAMMER",
        "hanging_man": "CDLHANGINGMAN",
        "harami": "CDLHARAMI",
        "harami_cross": "CDLHARAMICROSS",
        "high_wave": "CDLHIGHWAVE",
        "hikkake": "CDLHIKKAKE",
        "modified_hikkake": "CDLHIKKAKEMOD",
        "homing_pigeon": "CDLHOMINGPIGEON",
        "identical_three_crows": "CDLIDENTICAL3CROWS",
        "in_neck": "CDLINNECK",
        "inverted_hammer": "CDLINVERTEDHAMMER",
        "kicking": "CDLKICKING",
        "kicking_by_length": "CDLKICKINGBYLENGTH",
        "ladder_bottom": "CDLLADDERBOTTOM",
        "long_legged_doji": "CDLLONGLEGGEDDOJI",
        "long_line": "CDLLONGLINE",
        "marubozu": "CDLMARUBOZU",
        "matching_low": "CDLMATCHINGLOW",
        "mat_hold": "CDLMATHOLD",
        "morning_doji_star": "CDLMORNINGDOJISTAR",
        "morning_star": "CDLMORNINGSTAR",
        "on_neck": "CDLONNECK",
        "piercing": "CDLPIERCING",
        "rickshaw_man": "CDLRICKSHAWMAN",
        "rising_falling_three_methods": "CDLRISEFALL3METHODS",
        "separating_lines": "CDLSEPARATINGLINES",
        "shooting_star": "CDLSHOOTINGSTAR",
        "short_line": "CDLSHORTLINE",
        "spinning_top": "CDLSPINNINGTOP",
        "stalled_pattern": "CDLSTALLEDPATTERN",
        "stick_sandwich": "CDLSTICKSANDWICH",
        "takuri": "CDLTAKURI",
        "tasuki_gap": "CDLTASUKIGAP",
        "thrusting": "CDLTHRUSTING",
        "tristar": "CDLTRISTAR",
        "unique_three_river": "CDLUNIQUE3RIVER",
        "upside_gap_two_crows": "CDLUPSIDEGAP2CROWS",
        "gap_three_methods": "CDLXSIDEGAP3METHODS",
    }
)
"""Readable snake_case pattern name -> TA-Lib function name; read-only."""

_OHLC = ("open", "high", "low", "close")


def candlestick_pattern(frame: pd.DataFrame, name: str) -> pd.Series:
    """Mark the bars where one candlestick pattern completes.

    Parameters
    ----------
    frame
        A frame with ``open``, ``high``, ``low`` and ``close``.
    name
        A key of :data:`CANDLESTICK_PATTERNS`, for example ``"engulfing"``.

    Returns
    -------
    pandas.Series
        ``int8`` named ``name`` on the frame's index: ``1`` bullish, ``-1``
        bearish, ``0`` none.

    Raises
    ------
    UnknownNameError
        When no pattern has that name; the message names close matches.
    InvalidInputError
        When the frame lacks a price column.
    """
    function_name = _function_name(name)
    arrays = frame_arrays(frame, _OHLC, what="candlestick_pattern")
    return pd.Series(_signals(function_name, arrays), index=frame.index, name=name)


def candlestick_patterns(frame: pd.DataFrame, names: Iterable[str] | None = None) -> pd.DataFrame:
    """Mark the bars where each of several candlestick patterns completes.

    Parameters
    ----------
    frame
        A frame with ``open``, ``high``, ``low`` and ``close``.
    names
        Keys of :data:`CANDLESTICK_PATTERNS`; all of them, in registry order, by default.

    Returns
    -------
    pandas.DataFrame
        One ``int8`` column per pattern, named as asked, on the frame's index:
        ``1`` bullish, ``-1`` bearish, ``0`` none.

    Raises
    ------
    UnknownNameError
        When a name is not a pattern; nothing is computed then.
    InvalidInputError
        When the frame lacks a price column.
    """
    if names is None:
        chosen = list(CANDLESTICK_PATTERNS)
    elif isinstance(names, str):
        chosen = [names]
    else:
        chosen = list(dict.fromkeys(names))
    function_names = [_function_name(name) for name in chosen]
    arrays = frame_arrays(frame, _OHLC, what="candlestick_patterns")
    columns = {
        name: _signals(function_name, arrays)
        for name, function_name in zip(chosen, function_names, strict=True)
    }
    return pd.DataFrame(columns, index=frame.index, columns=chosen)


def _function_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInputError(
            f"candlestick pattern name must be text such as 'hammer', got {name!r}"
        )
    function_name = CANDLESTICK_PATTERNS.get(name)
    if function_name is None:
        raise UnknownNameError("candlestick pattern", name, CANDLESTICK_PATTERNS)
    return function_name


def _signals(function_name: str, arrays: tuple[np.ndarray, ...]) -> np.ndarray:
    raw: np.ndarray = np.asarray(getattr(talib, function_name)(*arrays))
    signals: np.ndarray = np.sign(raw).astype(np.int8)
    return signals
