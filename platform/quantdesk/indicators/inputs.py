"""Checks of what callers pass to indicators and pattern detectors.

Each check raises a one-line :class:`~quantdesk.errors.InvalidInputError` that
names the fix, and hands back the value in the form the computation needs:
plain ``int``, ``float`` or float64 ``numpy`` arrays.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError, UnknownNameError

PriceData = pd.DataFrame | pd.Series
"""A canonical OHLCV frame, or a single price series for single-input indicators."""


def require_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Check that a parameter is a whole number of at least ``minimum``.

    Parameters
    ----------
    value
        The value the caller passed.
    name
        The parameter's name, for the message.
    minimum
        The smallest accepted value.

    Returns
    -------
    int
        The value as a plain ``int``.

    Raises
    ------
    InvalidInputError
        When the value is not an integer (``bool`` included) or is too small.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(
            f"{name} must be a whole number >= {minimum}, got {type(value).__name__} {value!r}"
        )
    number = int(value)
    if number < minimum:
        raise InvalidInputError(f"{name} must be a whole number >= {minimum}, got {number}")
    return number


def require_positive_float(value: object, name: str) -> float:
    """Check that a parameter is a finite number above zero.

    Parameters
    ----------
    value
        The value the caller passed.
    name
        The parameter's name, for the message.

    Returns
    -------
    float
        The value as a plain ``float``.

    Raises
    ------
    InvalidInputError
        When the value is not a real number, is not finite or is <= 0.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(
            f"{name} must be a number > 0, got {type(value).__name__} {value!r}"
        )
    number = float(value)
    if not np.isfinite(number) or number <= 0:
        raise InvalidInputError(f"{name} must be a finite number > 0, got {number!r}")
    return number


def require_fraction(value: object, name: str, *, allow_zero: bool = True) -> float:
    """Check that a parameter is a relative amount in ``[0, 1)`` (or ``(0, 1)``).

    Parameters
    ----------
    value
        The value the caller passed, for example ``0.02`` for 2 %.
    name
        The parameter's name, for the message.
    allow_zero
        Accept exactly zero.

    Returns
    -------
    float
        The value as a plain ``float``.

    Raises
    ------
    InvalidInputError
        When the value is not a real number or lies outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(
            f"{name} must be a fraction such as 0.02, got {type(value).__name__} {value!r}"
        )
    number = float(value)
    low_ok = number >= 0 if allow_zero else number > 0
    if not (low_ok and number < 1):
        bounds = "[0, 1)" if allow_zero else "(0, 1)"
        raise InvalidInputError(
            f"{name} must lie in {bounds} as a fraction (0.02 means 2 %), got {number!r}"
        )
    return number


def require_frame(data: object, columns: Sequence[str], *, what: str) -> pd.DataFrame:
    """Check that ``data`` is a frame holding every one of ``columns``.

    Parameters
    ----------
    data
        The object the caller passed.
    columns
        The columns the computation reads.
    what
        The computation's name, for the message (``"atr"``).

    Returns
    -------
    pandas.DataFrame
        ``data`` itself.

    Raises
    ------
    InvalidInputError
        When ``data`` is not a DataFrame.
    UnknownNameError
        When a column is missing; the message names close matches.
    """
    if not isinstance(data, pd.DataFrame):
        needed = ", ".join(columns)
        raise InvalidInputError(
            f"{what} needs a frame with columns {needed}, got {type(data).__name__}"
        )
    present = [str(column) for column in data.columns]
    for column in columns:
        if column not in data.columns:
            raise UnknownNameError("column", column, present)
    return data


def column_array(data: pd.DataFrame, column: str) -> np.ndarray:
    """Return one numeric column of a frame as a float64 array.

    Parameters
    ----------
    data
        A frame that holds ``column`` (see :func:`require_frame`).
    column
        The column to read.

    Returns
    -------
    numpy.ndarray
        A contiguous float64 array; missing values become NaN.

    Raises
    ------
    InvalidInputError
        When the column is not numeric.
    """
    return series_array(data[column], f"column {column!r}")


def series_array(series: pd.Series, label: str) -> np.ndarray:
    """Return a numeric series as a contiguous float64 array.

    Parameters
    ----------
    series
        The series to read.
    label
        What the series is, for the message (``"column 'close'"``).

    Returns
    -------
    numpy.ndarray
        A contiguous float64 array; missing values become NaN.

    Raises
    ------
    InvalidInputError
        When the series is not numeric (booleans included).
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise InvalidInputError(f"{label} must be numeric, got dtype {dtype}")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.ascontiguousarray(values)


def price_array(data: object, column: str | None, *, what: str) -> np.ndarray:
    """Read the single input of a one-input indicator from a frame or a series.

    Parameters
    ----------
    data
        A frame, or a series used as it is.
    column
        The frame column to read; ``None`` means ``"close"``. Only frames take one.
    what
        The indicator's name, for the message.

    Returns
    -------
    numpy.ndarray
        A contiguous float64 array.

    Raises
    ------
    InvalidInputError
        When ``data`` is neither a frame nor a series, or a series comes with a column.
    UnknownNameError
        When the frame has no such column.
    """
    if isinstance(data, pd.Series):
        if column is not None:
            raise InvalidInputError(
                f"{what}: column={column!r} applies to frames; pass the series alone or the frame"
            )
        return series_array(data, f"the series given to {what}")
    if isinstance(data, pd.DataFrame):
        chosen = "close" if column is None else column
        if not isinstance(chosen, str):
            raise InvalidInputError(f"{what}: column must be text such as 'close', got {chosen!r}")
        require_frame(data, [chosen], what=what)
        return column_array(data, chosen)
    raise InvalidInputError(f"{what} needs a pandas DataFrame or Series, got {type(data).__name__}")


def frame_arrays(data: object, columns: Sequence[str], *, what: str) -> tuple[np.ndarray, ...]:
    """Read several columns of a frame as float64 arrays, in the order asked.

    Parameters
    ----------
    data
        The object the caller passed; it must be a frame with ``columns``.
    columns
        The columns to read, for example ``("high", "low", "close")``.
    what
        The computation's name, for the message.

    Returns
    -------
    tuple of numpy.ndarray
        One contiguous float64 array per column.

    Raises
    ------
    InvalidInputError
        When ``data`` is not a frame or a column is not numeric.
    UnknownNameError
        When a column is missing.
    """
    frame = require_frame(data, columns, what=what)
    return tuple(column_array(frame, column) for column in columns)
