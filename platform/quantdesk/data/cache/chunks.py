"""How a series is split into time-chunk files: one per calendar year or month.

Bars shorter than an hour go into one file per month (a month of 1m bars is
about 45,000 rows, 2 MB uncompressed); longer bars go into one file per year
(a year of 1h bars is under 9,000 rows). A load then opens only the files
whose period overlaps the range it asks for.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe

CHUNK_SUFFIX = ".parquet"
_MONTH_CHUNKS_BELOW = Timeframe(3_600)
_YEAR_NAME = re.compile(r"^(\d{4})\.parquet$")
_MONTH_NAME = re.compile(r"^(\d{4})-(\d{2})\.parquet$")


@dataclass(frozen=True)
class Chunk:
    """One chunk file of a series: its name and the period of time it holds."""

    file_name: str
    period: TimeRange


class ChunkPeriod(enum.Enum):
    """The length of the period each chunk file of a series holds."""

    YEAR = "year"
    MONTH = "month"

    @classmethod
    def for_timeframe(cls, timeframe: Timeframe) -> ChunkPeriod:
        """The chunk period for bars of ``timeframe``.

        Parameters
        ----------
        timeframe
            The bar length of the series.

        Returns
        -------
        ChunkPeriod
            ``MONTH`` for bars shorter than an hour, else ``YEAR``.
        """
        return cls.MONTH if timeframe < _MONTH_CHUNKS_BELOW else cls.YEAR

    def chunk_of_name(self, file_name: str) -> Chunk | None:
        """Read a chunk file name such as ``2024.parquet`` or ``2024-03.parquet``.

        Parameters
        ----------
        file_name
            A file name inside a series directory.

        Returns
        -------
        Chunk or None
            The chunk, or None when the name is not a chunk of this period
            (temporary files, coverage, the lock file).
        """
        if self is ChunkPeriod.YEAR:
            match = _YEAR_NAME.match(file_name)
            if match is None:
                return None
            year, month = int(match.group(1)), 1
        else:
            match = _MONTH_NAME.match(file_name)
            if match is None:
                return None
            year, month = int(match.group(1)), int(match.group(2))
            if not 1 <= month <= 12:
                return None
        try:
            chunk = self._chunk_starting(
                pd.Timestamp(year=year, month=month, day=1, tz="UTC").as_unit("ns")
            )
        except (ValueError, OverflowError):
            return None  # a year outside what nanosecond timestamps can hold
        return chunk if chunk.file_name == file_name else None

    def split(self, frame: pd.DataFrame) -> Iterator[tuple[Chunk, pd.DataFrame]]:
        """Cut a sorted canonical frame into the pieces that belong to each chunk.

        Parameters
        ----------
        frame
            A canonical frame; its rows are sorted by time.

        Yields
        ------
        (Chunk, pandas.DataFrame)
            Each chunk the frame touches, in time order, with its rows.
        """
        if frame.empty:
            return
        index = pd.DatetimeIndex(frame.index)
        codes = index.year.to_numpy() * 100
        if self is ChunkPeriod.MONTH:
            codes = codes + index.month.to_numpy()
        boundaries = np.flatnonzero(np.diff(codes)) + 1
        starts = [0, *boundaries.tolist()]
        stops = [*boundaries.tolist(), len(frame)]
        for first_row, stop_row in zip(starts, stops, strict=True):
            yield self._chunk_containing(index[first_row]), frame.iloc[first_row:stop_row]

    def _chunk_containing(self, time: pd.Timestamp) -> Chunk:
        month = time.month if self is ChunkPeriod.MONTH else 1
        return self._chunk_starting(
            pd.Timestamp(year=time.year, month=month, day=1, tz="UTC").as_unit("ns")
        )

    def _chunk_starting(self, start: pd.Timestamp) -> Chunk:
        if self is ChunkPeriod.YEAR:
            name = f"{start.year:04d}{CHUNK_SUFFIX}"
            return Chunk(name, TimeRange(start, start + pd.DateOffset(years=1)))
        name = f"{start.year:04d}-{start.month:02d}{CHUNK_SUFFIX}"
        return Chunk(name, TimeRange(start, start + pd.DateOffset(months=1)))
