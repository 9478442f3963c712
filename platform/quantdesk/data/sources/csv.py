"""OHLCV bars from a CSV file: ``csv:PATH``.

Reads the common layouts: columns ``Date``/``Time``/``Timestamp`` (or an
unnamed first column), ``Open``, ``High``, ``Low``, ``Close`` and ``Volume``
in any case, with an optional ``Adj Close`` that is ignored (prices are used
as written). Times are ISO text or epoch numbers (milliseconds, or seconds
when the values are too small to be milliseconds); naive times are UTC. A file
without ``Volume`` gets zero volume. The file's own timeframe is inferred from
its most common bar spacing; a coarser timeframe that is a multiple of it is
served by resampling. Files are read afresh each time, never cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.frame import OHLCV_COLUMNS, epoch_nanoseconds, validate_ohlcv
from quantdesk.core.resample import resample_ohlcv
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.source import DataSource
from quantdesk.errors import DataValidationError, FatalSourceError

_TIME_HEADERS = ("date", "datetime", "time", "timestamp", "unnamed: 0", "")
_IGNORED_HEADERS = ("adj close", "adj_close", "adjclose", "adjusted close")
_EPOCH_MILLISECONDS_THRESHOLD = 1e11


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
            Every bar in the file. One source reads an unchanged file once,
            however often a load asks for it.
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
            self._read_frames[version] = _to_canonical(raw, path)
        return self._read_frames[version]

    def file_timeframe(self, frame: pd.DataFrame) -> Timeframe | None:
        """Infer a frame's timeframe from its most common bar spacing.

        Returns
        -------
        Timeframe or None
            The spacing, or None for fewer than two bars.
        """
        if len(frame) < 2:
            return None
        spacings = np.diff(epoch_nanoseconds(frame)) // 1_000_000_000
        values, counts = np.unique(spacings, return_counts=True)
        return Timeframe(int(values[np.argmax(counts)]))

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        frame = self.read_file(symbol)
        native = self.file_timeframe(frame)
        if native is None or native == timeframe:
            return frame
        if not timeframe.is_multiple_of(native):
            raise FatalSourceError(
                f"{symbol} holds {native} bars, which cannot make {timeframe} bars; "
                f"ask for --timeframe {native} or a multiple of it"
            )
        return resample_ohlcv(frame, timeframe, source_timeframe=native)

    def available_range(self, symbol: str, timeframe: Timeframe) -> TimeRange | None:
        """The span of the file, from the start of the ``timeframe`` bar holding its first bar."""
        frame = self.read_file(symbol)
        if frame.empty:
            return None
        step = self.file_timeframe(frame) or timeframe
        first_bucket = int(timeframe.bucket_starts(epoch_nanoseconds(frame)[:1])[0])
        return TimeRange(pd.Timestamp(first_bucket, tz="UTC"), frame.index[-1] + step.timedelta)

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


def _parse_times(column: pd.Series, path: Path) -> pd.DatetimeIndex:
    if pd.api.types.is_numeric_dtype(column.dtype):
        epoch = column.to_numpy(dtype=np.float64)
        milliseconds = float(np.abs(epoch).max()) >= _EPOCH_MILLISECONDS_THRESHOLD
        return pd.DatetimeIndex(pd.to_datetime(epoch, unit="ms" if milliseconds else "s", utc=True))
    try:
        times = pd.DatetimeIndex(pd.to_datetime(column, format="ISO8601"))
    except (ValueError, TypeError):
        first = column.iloc[0] if len(column) else ""
        raise FatalSourceError(
            f"{path}: cannot read times such as {first!r}; use ISO dates or epoch milliseconds"
        ) from None
    return times if times.tz is not None else times.tz_localize("UTC")
