"""The canonical OHLCV frame and its validator.

A canonical frame has a UTC ``DatetimeIndex`` named ``time`` (nanosecond
resolution, sorted, unique, no ``freq``) and exactly the float64 columns ``open``, ``high``,
``low``, ``close`` and ``volume``. :func:`validate_ohlcv` repairs what can be
repaired, with a :class:`~quantdesk.errors.DataRepairWarning`, and refuses the
rest with a one-line :class:`~quantdesk.errors.DataValidationError` that names
the problem and where it is.
"""

from __future__ import annotations

import warnings
import weakref

import numpy as np
import pandas as pd

from quantdesk.errors import DataRepairWarning, DataValidationError

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
INDEX_NAME = "time"
_TIME_COLUMN_NAMES = ("time", "date", "datetime", "timestamp")


def empty_ohlcv() -> pd.DataFrame:
    """Return a canonical frame with no rows.

    Returns
    -------
    pandas.DataFrame
        Zero rows, the canonical columns and a UTC index named ``time``.
    """
    index = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name=INDEX_NAME)
    return pd.DataFrame({column: np.empty(0) for column in OHLCV_COLUMNS}, index=index)


def validate_ohlcv(
    frame: pd.DataFrame,
    *,
    timezone: str | None = None,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """Check a frame against the canonical OHLCV layout, repairing what can be repaired.

    Repairs, each with a ``DataRepairWarning``: column names in another case,
    a time column instead of a time index, timestamps in another zone, integer
    or other numeric dtypes, unsorted rows, duplicate timestamps (the last row
    wins) and extra columns (dropped).

    Parameters
    ----------
    frame
        The frame to check. It is not modified.
    timezone
        The zone of naive timestamps, for example ``"UTC"`` or
        ``"America/New_York"``. Naive timestamps without it are refused.
    allow_empty
        Accept a frame with no rows.

    Returns
    -------
    pandas.DataFrame
        A new canonical frame.

    Raises
    ------
    DataValidationError
        For missing columns, non-numeric or NaN values, infinite values,
        prices at or below zero, negative volume, ``high < low``, open or close
        outside ``[low, high]``, an empty frame, or naive timestamps without
        ``timezone``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(
            f"expected a pandas DataFrame of OHLCV bars, got {type(frame).__name__}"
        )
    converted = with_nanosecond_index(frame)
    if converted is not None:
        _check_values(converted)
        return converted
    repairs: list[str] = []
    frame = _with_time_index(frame, repairs)
    frame = _with_canonical_columns(frame, repairs)
    if frame.empty and not allow_empty:
        raise DataValidationError("the OHLCV frame is empty; load a range that contains bars")
    index = _utc_index(frame.index, timezone, repairs)
    columns = {column: _float_column(frame[column], column, repairs) for column in OHLCV_COLUMNS}
    result = pd.DataFrame(columns, index=index)
    if not result.index.is_monotonic_increasing:
        result = result.sort_index(kind="stable")
        repairs.append("sorted the rows by time")
    duplicated = result.index.duplicated(keep="last")
    if duplicated.any():
        result = result[~duplicated]
        repairs.append(f"dropped {int(duplicated.sum())} duplicate timestamps, keeping the last")
    _check_values(result)
    if repairs:
        warnings.warn(
            "repaired the OHLCV frame: " + "; ".join(repairs), DataRepairWarning, stacklevel=2
        )
    return result


def is_canonical(frame: pd.DataFrame) -> bool:
    """Tell whether a frame already has the canonical layout (not its values).

    Parameters
    ----------
    frame
        The frame to inspect.

    Returns
    -------
    bool
        True when the index, column names, order and dtypes are canonical.
    """
    index = frame.index
    return (
        isinstance(index, pd.DatetimeIndex)
        and str(index.dtype) == "datetime64[ns, UTC]"
        and index.name == INDEX_NAME
        and tuple(frame.columns) == OHLCV_COLUMNS
        and all(dtype == np.float64 for dtype in frame.dtypes)
        and index.is_monotonic_increasing
        and index.is_unique
    )


def with_nanosecond_index(frame: pd.DataFrame) -> pd.DataFrame | None:
    """The frame on a nanosecond index when its time unit is all that is not canonical.

    pandas 3 builds ``datetime64[us, UTC]`` indexes by default; only the index
    is converted then, and the columns are shared, not copied (like any unit
    conversion, silently: sources build such frames themselves). The values are
    not checked here.

    Parameters
    ----------
    frame
        Any frame.

    Returns
    -------
    pandas.DataFrame or None
        The frame on a ``datetime64[ns, UTC]`` index, or None when something
        other than the time unit is not canonical (or the unit is already ns).
    """
    index = frame.index
    if not (
        isinstance(index, pd.DatetimeIndex)
        and index.unit != "ns"
        and str(index.tz) == "UTC"
        and index.name == INDEX_NAME
        and tuple(frame.columns) == OHLCV_COLUMNS
        and all(dtype == np.float64 for dtype in frame.dtypes)
    ):
        return None
    nanoseconds = _converted_before(index)
    if nanoseconds is None:
        if index.hasnans or not _strictly_increasing(index.asi8):
            return None
        try:
            nanoseconds = index.as_unit("ns").rename(INDEX_NAME)
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            return None
        _LAST_CONVERSION[:] = [(weakref.ref(index), nanoseconds)]
    return frame.set_axis(nanoseconds, axis=0)


_LAST_CONVERSION: list[tuple[weakref.ref[pd.DatetimeIndex], pd.DatetimeIndex]] = []
"""The last index converted and its conversion: a sweep passes the same frame again and
again, and reusing the converted index also reuses what pandas caches on it."""


def _converted_before(index: pd.DatetimeIndex) -> pd.DatetimeIndex | None:
    for source, converted in _LAST_CONVERSION:
        if source() is index:
            return converted
    return None


def epoch_nanoseconds(frame: pd.DataFrame) -> np.ndarray:
    """The bar times of a canonical frame as int64 nanoseconds since the epoch.

    Parameters
    ----------
    frame
        A frame with a UTC ``DatetimeIndex``.

    Returns
    -------
    numpy.ndarray
        A read-only int64 view of the index; no copy is made.
    """
    return pd.DatetimeIndex(frame.index).asi8


def _with_time_index(frame: pd.DataFrame, repairs: list[str]) -> pd.DataFrame:
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame
    lowered = {str(column).lower(): column for column in frame.columns}
    for candidate in _TIME_COLUMN_NAMES:
        if candidate in lowered:
            column = lowered[candidate]
            repairs.append(f"used column {column!r} as the time index")
            return frame.set_index(column)
    raise DataValidationError(
        "the OHLCV frame has no DatetimeIndex and no 'time' column; "
        "set one with frame.set_index(pd.to_datetime(...))"
    )


def _with_canonical_columns(frame: pd.DataFrame, repairs: list[str]) -> pd.DataFrame:
    by_lower: dict[str, object] = {}
    for column in frame.columns:
        by_lower.setdefault(str(column).lower().strip(), column)
    missing = [column for column in OHLCV_COLUMNS if column not in by_lower]
    if missing:
        present = ", ".join(str(column) for column in frame.columns) or "none"
        raise DataValidationError(
            f"the OHLCV frame is missing column(s) {', '.join(missing)}; columns present: {present}"
        )
    renamed = {by_lower[column]: column for column in OHLCV_COLUMNS if by_lower[column] != column}
    if renamed:
        repairs.append(
            "renamed columns " + ", ".join(f"{old!r}->{new!r}" for old, new in renamed.items())
        )
    extra = [
        column for column in frame.columns if column not in renamed and column not in OHLCV_COLUMNS
    ]
    if extra:
        repairs.append("dropped extra columns " + ", ".join(repr(column) for column in extra))
    return frame.rename(columns=renamed)


def _utc_index(index: pd.Index, timezone: str | None, repairs: list[str]) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise DataValidationError("the OHLCV frame's index is not a DatetimeIndex")
    if index.hasnans:
        position = int(np.flatnonzero(index.isna())[0])
        raise DataValidationError(f"the time index has a missing timestamp at row {position}")
    if index.tz is None:
        if timezone is None:
            first = index[0] if len(index) else "row 0"
            raise DataValidationError(
                f"the timestamps are naive (first: {first}); pass timezone='UTC' "
                "or the zone the data was recorded in"
            )
        try:
            index = index.tz_localize(timezone)
        except Exception as error:
            raise DataValidationError(
                f"cannot place naive timestamps in zone {timezone!r}: {error}"
            ) from None
        repairs.append(f"read naive timestamps as {timezone}")
    elif str(index.tz) != "UTC":
        repairs.append(f"converted timestamps from {index.tz} to UTC")
    nanoseconds = index.tz_convert("UTC").as_unit("ns").asi8
    return pd.DatetimeIndex(nanoseconds, tz="UTC", name=INDEX_NAME)


def _float_column(series: pd.Series, column: str, repairs: list[str]) -> np.ndarray:
    if series.dtype == np.float64:
        return series.to_numpy(copy=True)
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        numeric = pd.to_numeric(series, errors="coerce")
        bad = numeric.isna() & series.notna()
        if bad.any():
            where = series.index[bad.to_numpy()][0]
            raise DataValidationError(
                f"column {column!r} has a non-numeric value {series[bad].iloc[0]!r} at {where}"
            )
        series = numeric
    repairs.append(f"converted {column!r} from {series.dtype} to float64")
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _strictly_increasing(epochs: np.ndarray) -> bool:
    """Sorted and unique in one pass (``is_unique`` would build a hash table)."""
    return len(epochs) < 2 or bool((epochs[1:] > epochs[:-1]).all())


def _check_values(frame: pd.DataFrame) -> None:
    values = {column: frame[column].to_numpy() for column in OHLCV_COLUMNS}
    if _all_valid(values):
        return
    for column in OHLCV_COLUMNS:
        _refuse(frame, np.isnan(values[column]), f"NaN in {column!r}", "fill or drop those rows")
        _refuse(frame, np.isinf(values[column]), f"infinite {column!r}", "drop those rows")
    for column in PRICE_COLUMNS:
        _refuse(frame, values[column] <= 0, f"{column!r} <= 0", "prices must be positive")
    _refuse(frame, values["volume"] < 0, "negative 'volume'", "volume must be >= 0")
    high, low = values["high"], values["low"]
    _refuse(frame, high < low, "high < low", "check the column order")
    for column in ("open", "close"):
        outside = (values[column] < low) | (values[column] > high)
        _refuse(frame, outside, f"{column!r} outside [low, high]", "fix or drop those rows")


def _all_valid(values: dict[str, np.ndarray]) -> bool:
    """Whether every bar passes every check, in as few passes as the checks allow.

    With ``0 < low <= high`` and open and close within ``[low, high]``, every
    price is positive; NaN fails every comparison, so only infinities need
    their own test. The detailed checks run only when this says no, to name
    the first problem.
    """
    high, low = values["high"], values["low"]
    if not (low > 0).all() or not (high >= low).all() or not np.isfinite(high).all():
        return False
    for column in ("open", "close"):
        column_values = values[column]
        if not ((column_values >= low) & (column_values <= high)).all():
            return False
    volume = values["volume"]
    return bool((volume >= 0).all() and np.isfinite(volume).all())


def _refuse(frame: pd.DataFrame, mask: np.ndarray, problem: str, fix: str) -> None:
    if not mask.any():
        return
    count = int(mask.sum())
    first = frame.index[int(np.flatnonzero(mask)[0])]
    rows = "row" if count == 1 else "rows"
    raise DataValidationError(f"{problem} at {first} ({count} {rows}); {fix}")
