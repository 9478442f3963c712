"""Strict crossings of one series over another, bar by bar, as backtesting.py defines them.

``values`` crosses above ``reference`` at bar ``i`` when
``values[i - 1] < reference[i - 1]`` and ``values[i] > reference[i]``: both
inequalities are strict, so touching without passing (or starting from a
tie) is no crossing, and a NaN on either bar means none. This is exactly
``backtesting.lib.crossover``; the built-in strategies use it for every
crossing they trade on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError

SeriesLike = pd.Series | np.ndarray
"""A series or a 1-d array, one value per bar."""


def crossed_above(values: SeriesLike, reference: SeriesLike | float) -> np.ndarray:
    """Mark the bars on which ``values`` crosses strictly above ``reference``.

    Parameters
    ----------
    values
        One value per bar.
    reference
        One value per bar, or a constant level such as an RSI threshold.

    Returns
    -------
    numpy.ndarray
        Bool, one per bar; the first bar is never a crossing.
    """
    current, level = _aligned(values, reference)
    crossed = np.zeros(len(current), dtype=np.bool_)
    crossed[1:] = (current[:-1] < level[:-1]) & (current[1:] > level[1:])
    return crossed


def crossed_below(values: SeriesLike, reference: SeriesLike | float) -> np.ndarray:
    """Mark the bars on which ``values`` crosses strictly below ``reference``.

    Parameters
    ----------
    values
        One value per bar.
    reference
        One value per bar, or a constant level.

    Returns
    -------
    numpy.ndarray
        Bool, one per bar; the first bar is never a crossing.
    """
    current, level = _aligned(values, reference)
    crossed = np.zeros(len(current), dtype=np.bool_)
    crossed[1:] = (current[:-1] > level[:-1]) & (current[1:] < level[1:])
    return crossed


def _aligned(values: SeriesLike, reference: SeriesLike | float) -> tuple[np.ndarray, np.ndarray]:
    current = np.asarray(values, dtype=np.float64)
    if current.ndim != 1:
        raise InvalidInputError(f"crossings need one value per bar, got shape {current.shape}")
    level = np.asarray(reference, dtype=np.float64)
    if level.ndim == 0:
        level = np.full(len(current), float(level))
    if level.shape != current.shape:
        raise InvalidInputError(
            f"crossings compare {len(current)} values with {len(level)}; give one per bar"
        )
    return current, level
