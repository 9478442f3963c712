"""OHLCV bars from a CSV file: ``csv:PATH``.

Reads the common layouts: columns ``Date``/``Time``/``Timestamp`` (or an
unnamed first column), ``Open``, ``High``, ``Low``, ``Close`` and ``Volume``
in any case, with an optional ``Adj Close`` that is ignored (prices are used
as written). A file without ``Volume`` gets zero volume.

Times may be written three ways:

- ISO 8601 text. Times with UTC offsets are converted to UTC, and the offsets
  may change from row to row (daylight saving time); times without an offset
  are UTC. A file that mixes the two is refused.
- Whole numbers from 19000101 to 21001231 that are calendar dates: ``YYYYMMDD``.
- Epoch numbers, their unit told by magnitude: seconds from 1e8 up to 1e10,
  milliseconds from 1e11 up to 1e13, microseconds from 1e14 up to 1e16 and
  nanoseconds from 1e17 up to 9.2e18, so from 1973-03-03 in every unit, and
  until 2262-04-11, the latest time pandas holds. A number outside these
  ranges, or a file mixing units, is refused.

The file's own timeframe is inferred from its most common bar spacing, from
1m to 1w, or ``1M`` when bars are most often 25 to 35 days apart; a coarser
timeframe that is a multiple of it is served by resampling (daily files make
``1M`` bars). In a monthly file each bar is the calendar month its UTC time
falls in and is stamped at that month's first day, 00:00 UTC, so files dated
on the first of the month and files dated on its last calendar or business
day (2024-01-31, 2024-02-29, 2024-03-28) read alike; a file with two bars in
one month is refused. Files are read afresh each time, never cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.frame import OHLCV_COLUMNS, epoch_nanoseconds, validate_ohlcv
from quantdesk.core.resample import resample_ohlcv
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import MONTH, Timeframe
from quantdesk.data.source import DataSource
from quantdesk.errors import DataValidationError, FatalSourceError

_TIME_HEADERS = ("date", "datetime", "time", "timestamp", "unnamed: 0", "")
_IGNORED_HEADERS = ("adj close", "adj_close", "adjclose", "adjusted close")
_DATE_NUMBER_FIRST = 19_000_101
_DATE_NUMBER_LAST = 21_001_231
# Each epoch unit as (name, pandas unit, lowest value, first value beyond its range).
_EPOCH_UNITS: tuple[tuple[str, Literal["s", "ms", "us", "ns"], float, float], ...] = (
    ("seconds", "s", 1e8, 1e10),
    ("milliseconds", "ms", 1e11, 1e13),
    ("microseconds", "us", 1e14, 1e16),
    ("nanoseconds", "ns", 1e17, float(2**63)),
)
_EPOCH_RANGES_TEXT = (
    "seconds (1e8 to 1e10), milliseconds (1e11 to 1e13), "
    "microseconds (1e14 to 1e16) or nanoseconds (1e17 to 9.2e18)"
)
_OFFSET_PATTERN = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)\s*$"
_SECONDS_PER_DAY = 86_400
# Monthly bars dated on a month's last business day can lie 25 to 35 days apart.
_MONTHLY_SPACING_DAYS = (25, 35)


class CsvSource(DataSource):
    """Bars read from a local CSV file; the symbol is the file's path."""

    name = "csv"
    description = "a local CSV file of OHLCV bars (csv:PATH)"
    cacheable = False

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._read_frames: dict[tuple[Path, int, int], pd.DataFrame] = {}

    def read_file(self, symbol: str) -> pd.DataFrame:
        """Read the whole file as a canonical frame.

        Parameters
        ----------
        symbol
            The path of the CSV file, absolute or relative to the working directory.

        Returns
        -------
        pandas.DataFrame
            Every bar in the file, monthly bars stamped at their month's
            first day. One source reads an unchanged file once, however
            often a load asks for it.
        """
        path = Path(symbol).expanduser()
        if path.is_dir():
            raise FatalSourceError(f"{path} is a directory; give the CSV file's path after 'csv:'")
        if not path.is_file():
            raise FatalSourceError(f"CSV file {path} does not exist; check the path after 'csv:'")
        status = path.stat()
        version = (path.resolve(), status.st_mtime_ns, status.st_size)
        if version not in self._read_frames:
            try:
                raw = pd.read_csv(path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
                message = f"cannot read {path} as CSV: {error}".splitlines()[0]
                raise FatalSourceError(message) from None
            frame = _to_canonical(raw, path)
            try:
                timeframe = self.file_timeframe(frame)
            except FatalSourceError as error:
                raise FatalSourceError(f"{path} {error}") from None
            if timeframe == MONTH:
                frame = _stamped_at_month_starts(frame, path)
            self._read_frames[version] = frame
        return self._read_frames[version]

    def file_timeframe(self, frame: pd.DataFrame) -> Timeframe | None:
        """Infer a frame's timeframe from its most common bar spacing.

        Returns
        -------
        Timeframe or None
            The spacing, ``1M`` for bars 25 to 35 days apart, or None for
            fewer than two bars.

        Raises
        ------
        FatalSourceError
            When the spacing is no timeframe: bars more than a week apart and
            not monthly, or bars closer than a minute or not whole minutes apart.
        """
        if len(frame) < 2:
            return None
        spacings = np.diff(epoch_nanoseconds(frame)) // 1_000_000_000
        values, counts = np.unique(spacings, return_counts=True)
        return _timeframe_of_spacing(int(values[np.argmax(counts)]))

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        frame = self.read_file(symbol)
        native = self.file_timeframe(frame)
        if native is None or native == timeframe:
            return frame
        if not timeframe.is_multiple_of(native):
            multiple = "" if native.is_calendar_month else " or a multiple of it"
            raise FatalSourceError(
                f"{symbol} holds {native} bars, which cannot make {timeframe} bars; "
                f"ask for --timeframe {native}{multiple}"
            )
        return resample_ohlcv(frame, timeframe, source_timeframe=native)

    def available_range(self, symbol: str, timeframe: Timeframe) -> TimeRange | None:
        """The span of the file, from the start of the ``timeframe`` bar holding its first bar."""
        frame = self.read_file(symbol)
        if frame.empty:
            return None
        step = self.file_timeframe(frame) or timeframe
        first_bucket = int(timeframe.bucket_starts(epoch_nanoseconds(frame)[:1])[0])
        return TimeRange(pd.Timestamp(first_bucket, tz="UTC"), step.shift(frame.index[-1]))

    def native_timeframe(self, symbol: str) -> Timeframe | None:
        """The file's own timeframe, its most common bar spacing."""
        return self.file_timeframe(self.read_file(symbol))

    def symbols(self) -> Sequence[str]:
        """CSV files are not listed; any readable path is a symbol."""
        return ()


def _to_canonical(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    headers = {str(column).strip().lower(): column for column in raw.columns}
    time_header = next((headers[name] for name in _TIME_HEADERS if name in headers), None)
    if time_header is None:
        present = ", ".join(map(str, raw.columns))
        raise FatalSourceError(f"{path} has no Date, Time or Timestamp column; columns: {present}")
    frame = raw.drop(columns=[headers[name] for name in _IGNORED_HEADERS if name in headers])
    frame = frame.rename(columns={column: str(column).strip().lower() for column in frame.columns})
    time_key = str(time_header).strip().lower()
    if "volume" not in frame.columns:
        frame["volume"] = 0.0
    times = _parse_times(frame.pop(time_key), path)
    frame.index = pd.DatetimeIndex(times, name="time")
    try:
        columns = frame[list(OHLCV_COLUMNS)]
    except KeyError as error:
        raise FatalSourceError(f"{path} lacks column(s) {error.args[0]}") from None
    columns = columns.astype(
        {name: np.float64 for name in OHLCV_COLUMNS if pd.api.types.is_integer_dtype(columns[name])}
    )
    try:
        return validate_ohlcv(columns)
    except DataValidationError as error:
        raise FatalSourceError(f"{path}: {error}") from None


def _timeframe_of_spacing(seconds: int) -> Timeframe:
    shortest_month, longest_month = (days * _SECONDS_PER_DAY for days in _MONTHLY_SPACING_DAYS)
    if shortest_month <= seconds <= longest_month:
        return MONTH
    if seconds > Timeframe.MAXIMUM_SECONDS:
        raise FatalSourceError(
            f"holds bars {_duration_text(seconds)} apart, and timeframes go up to 1w and 1M; "
            "give a file of daily, weekly or monthly bars"
        )
    if seconds < Timeframe.MINIMUM_SECONDS or seconds % 60 != 0:
        raise FatalSourceError(
            f"holds bars {_duration_text(seconds)} apart, and timeframes are whole minutes "
            "from 1m; give a file of 1-minute or coarser bars"
        )
    return Timeframe(seconds)


def _stamped_at_month_starts(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    starts = MONTH.bucket_starts(epoch_nanoseconds(frame))
    repeated = np.flatnonzero(starts[1:] == starts[:-1])
    if repeated.size:
        row = int(repeated[0]) + 1
        first, second = frame.index[row - 1], frame.index[row]
        raise FatalSourceError(
            f"{path}: {_date_text(first)} (data row {row}) and {_date_text(second)} (data row "
            f"{row + 1}) both fall in {first:%B %Y}; a monthly file holds one bar a month, "
            "so delete or merge one"
        )
    stamped = frame.copy()
    stamped.index = pd.DatetimeIndex(starts, tz="UTC", name=frame.index.name).as_unit("ns")
    return stamped


def _date_text(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%d" if moment == moment.normalize() else "%Y-%m-%d %H:%M")


def _duration_text(seconds: int) -> str:
    for unit, unit_seconds in (("day", _SECONDS_PER_DAY), ("hour", 3_600), ("minute", 60)):
        if seconds % unit_seconds == 0:
            count = seconds // unit_seconds
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _parse_times(column: pd.Series, path: Path) -> pd.DatetimeIndex:
    missing = column.isna().to_numpy()
    if missing.any():
        row = _data_row(missing)
        raise FatalSourceError(f"{path}: data row {row} has no time; fill it in or delete the row")
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return _parse_numbers(column, path)
    return _parse_text(column.astype(str), path)


def _parse_numbers(column: pd.Series, path: Path) -> pd.DatetimeIndex:
    values = column.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        row = _data_row(~np.isfinite(values))
        raise FatalSourceError(f"{path}: data row {row} has an infinite time; correct it")
    whole = values == np.floor(values)
    is_date_number = whole & (values >= _DATE_NUMBER_FIRST) & (values <= _DATE_NUMBER_LAST)
    if is_date_number.all():
        return _parse_date_numbers(values.astype(np.int64), path)
    unit_codes = np.full(len(values), -1)
    for code, (_, _, lowest, beyond) in enumerate(_EPOCH_UNITS):
        unit_codes[(values >= lowest) & (values < beyond)] = code
    unreadable = unit_codes < 0
    if unreadable.any():
        row = _data_row(unreadable)
        value = _number_text(column.iloc[row - 1])
        raise FatalSourceError(
            f"{path}: time {value} in data row {row} is neither a YYYYMMDD date nor epoch "
            f"{_EPOCH_RANGES_TEXT}; write it in one of these forms or as ISO text"
        )
    first_unit = int(unit_codes[0])
    other_unit = unit_codes != first_unit
    if other_unit.any():
        row = _data_row(other_unit)
        first, other = _number_text(column.iloc[0]), _number_text(column.iloc[row - 1])
        first_name, other_name = (_EPOCH_UNITS[int(unit_codes[at])][0] for at in (0, row - 1))
        raise FatalSourceError(
            f"{path}: times mix epoch units ({first} in data row 1 is {first_name}, {other} "
            f"in data row {row} is {other_name}); write every time in one unit"
        )
    unit_name, unit = _EPOCH_UNITS[first_unit][:2]
    numbers = values if not whole.all() else column.to_numpy(dtype=np.int64)
    try:
        times = pd.DatetimeIndex(pd.to_datetime(numbers, unit=unit, utc=True)).as_unit("ns")
    except pd.errors.OutOfBoundsDatetime:
        raise FatalSourceError(
            f"{path}: times in epoch {unit_name} reach past {pd.Timestamp.max.date()}, "
            "the latest time pandas can hold; correct or drop those rows"
        ) from None
    return times


def _parse_date_numbers(numbers: np.ndarray, path: Path) -> pd.DatetimeIndex:
    times = pd.to_datetime(numbers.astype(str), format="%Y%m%d", errors="coerce", utc=True)
    unreadable = np.asarray(pd.isna(times))
    if unreadable.any():
        row = _data_row(unreadable)
        raise FatalSourceError(
            f"{path}: {numbers[row - 1]} in data row {row} is not a calendar date "
            "in YYYYMMDD form; correct it"
        )
    return pd.DatetimeIndex(times).as_unit("ns")


def _parse_text(column: pd.Series, path: Path) -> pd.DatetimeIndex:
    try:
        times = pd.DatetimeIndex(pd.to_datetime(column, format="ISO8601"))
    except (ValueError, TypeError):
        times = _parse_text_with_mixed_offsets(column, path)
    if times.tz is None:
        times = times.tz_localize("UTC")
    return times.tz_convert("UTC").as_unit("ns")


def _parse_text_with_mixed_offsets(column: pd.Series, path: Path) -> pd.DatetimeIndex:
    times = pd.DatetimeIndex(pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce"))
    unreadable = np.asarray(times.isna())
    if unreadable.any():
        row = _data_row(unreadable)
        raise FatalSourceError(
            f"{path}: cannot read times such as {column.iloc[row - 1]!r} (data row {row}); "
            "write ISO 8601 times such as 2024-03-08 or 2024-03-08T09:30:00-05:00, "
            "or epoch numbers"
        )
    has_offset = column.str.contains(_OFFSET_PATTERN).to_numpy(dtype=bool)
    if has_offset.any() and not has_offset.all():
        with_offset, without_offset = _data_row(has_offset), _data_row(~has_offset)
        raise FatalSourceError(
            f"{path}: {column.iloc[with_offset - 1]!r} (data row {with_offset}) has a UTC offset "
            f"but {column.iloc[without_offset - 1]!r} (data row {without_offset}) has none; "
            "give every time an offset, or none for UTC"
        )
    return times


def _data_row(flags: np.ndarray) -> int:
    return int(np.flatnonzero(flags)[0]) + 1


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
