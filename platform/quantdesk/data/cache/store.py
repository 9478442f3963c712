"""The cache of OHLCV bars: a template whose public methods check, a backend stores.

:class:`OHLCVStore` validates every request, trims what it loads, orders the
steps of a write (bars first, coverage after, all under the series' writer
lock) and returns canonical frames. A backend implements the storage
primitives: ``_read``, ``_write``, ``_append``, coverage bookkeeping, locking,
removal and listing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from quantdesk.core.frame import empty_ohlcv, is_canonical, validate_ohlcv
from quantdesk.core.time_range import TimeRange, merge_ranges
from quantdesk.data.adjustment import checked_basis
from quantdesk.data.cache.coverage import CoverageRecord
from quantdesk.data.cache.key import CacheKey
from quantdesk.errors import CacheError, InvalidInputError


@dataclass(frozen=True)
class SeriesStatistics:
    """What a backend reports about the bars it holds for one series."""

    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    size_bytes: int


@dataclass(frozen=True)
class CacheEntry:
    """One cached series, as ``quantdesk data ls`` shows it.

    ``first`` and ``last`` are the start times of the first and last bars,
    None when the series holds no bars; ``coverage`` lists the ranges known,
    merged and sorted, which may include ranges without bars; ``adjustment``
    is the recorded adjustment basis of the bars, None when unknown.
    """

    key: CacheKey
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    size_bytes: int
    coverage: tuple[TimeRange, ...]
    adjustment: str | None = None


class OHLCVStore(ABC):
    """A store of OHLCV bars keyed by :class:`CacheKey`, with coverage bookkeeping.

    Bars are kept apart from coverage: :meth:`save` stores the bars it is
    given and records the whole range they were fetched for as covered, so
    :meth:`missing` tells the loader what remains to fetch, even for ranges
    that hold no bars. Each series also records the adjustment basis of its
    bars (:mod:`quantdesk.data.adjustment`), and bars of one basis are never
    saved into a series recorded with another.
    """

    def load(self, key: CacheKey, time_range: TimeRange) -> pd.DataFrame:
        """Return the cached bars of ``key`` whose start lies in ``time_range``.

        Parameters
        ----------
        key
            The series.
        time_range
            The half-open range ``[start, end)`` of bar start times.

        Returns
        -------
        pandas.DataFrame
            A canonical frame, empty when no cached bar falls in the range.

        Raises
        ------
        CacheError
            When a cache file cannot be read.
        """
        _check_key(key)
        _check_time_range(time_range)
        frame = self._read(key, time_range)
        if frame.empty:
            return empty_ohlcv()
        if not is_canonical(frame):
            raise CacheError(
                f"the cached bars of {key} are not in canonical form; {self._fix_hint(key)}"
            )
        index = pd.DatetimeIndex(frame.index)
        first_row = int(index.searchsorted(time_range.start, side="left"))
        stop_row = int(index.searchsorted(time_range.end, side="left"))
        return frame.iloc[first_row:stop_row]

    def save(
        self,
        key: CacheKey,
        frame: pd.DataFrame,
        covered: TimeRange,
        *,
        adjustment: str | None = None,
    ) -> None:
        """Store bars, merging them into the series, and record ``covered`` as known.

        Rows whose timestamp is already cached replace the cached rows.

        Parameters
        ----------
        key
            The series.
        frame
            A canonical frame; every bar must start inside ``covered``. It may
            be empty, which records a range known to hold no bars.
        covered
            The range the bars were fetched for.
        adjustment
            The adjustment basis of the bars; it becomes the series' recorded
            basis. None keeps the recorded one.

        Raises
        ------
        InvalidInputError
            When the frame is not canonical or has a bar outside ``covered``,
            or when the series holds bars recorded with another basis.
        CacheError
            When the cache cannot be written.
        """
        _check_key(key)
        _check_time_range(covered, name="covered")
        if adjustment is not None:
            checked_basis(adjustment)
        frame = _checked_frame(frame, covered)
        with self._writer_lock(key):
            record = self._read_coverage(key)
            recorded = record.adjustment
            if adjustment is not None and recorded not in (None, adjustment) and record.ranges:
                raise InvalidInputError(
                    f"the cached bars of {key} are adjusted on basis {recorded!r}, not "
                    f"{adjustment!r}, and must not be mixed; replace the whole series or run "
                    f"{self._remove_command(key)}"
                )
            if not frame.empty:
                self._append(key, frame)
            # Coverage goes last: a crash before this line costs a re-fetch, never a gap.
            self._write_coverage(
                key,
                merge_ranges([*record.ranges, covered]),
                adjustment if adjustment is not None else recorded,
            )

    def replace(
        self,
        key: CacheKey,
        frame: pd.DataFrame,
        covered: TimeRange,
        *,
        adjustment: str | None = None,
    ) -> None:
        """Replace the whole series by ``frame``, with ``covered`` as its only coverage.

        Parameters
        ----------
        key
            The series.
        frame
            A canonical frame; every bar must start inside ``covered``.
        covered
            The range the bars were fetched for.
        adjustment
            The adjustment basis of the bars, recorded with the new coverage;
            None when it is unknown.

        Raises
        ------
        InvalidInputError
            When the frame is not canonical or has a bar outside ``covered``.
        CacheError
            When the cache cannot be written.
        """
        _check_key(key)
        _check_time_range(covered, name="covered")
        if adjustment is not None:
            checked_basis(adjustment)
        frame = _checked_frame(frame, covered)
        with self._writer_lock(key):
            # Coverage is withdrawn before the bars change and restored after.
            self._write_coverage(key, [], None)
            self._write(key, frame)
            self._write_coverage(key, [covered], adjustment)

    def coverage(self, key: CacheKey) -> list[TimeRange]:
        """The ranges of ``key`` known to the cache, merged and sorted.

        Parameters
        ----------
        key
            The series.

        Returns
        -------
        list of TimeRange
            Disjoint ranges in time order; empty for an unknown series.
        """
        _check_key(key)
        return list(self._read_coverage(key).ranges)

    def adjustment(self, key: CacheKey) -> str | None:
        """The recorded adjustment basis of the bars of ``key``.

        Parameters
        ----------
        key
            The series.

        Returns
        -------
        str or None
            A name from :data:`~quantdesk.data.adjustment.ADJUSTMENT_BASES`;
            None for an unknown series or one cached before bases were recorded.
        """
        _check_key(key)
        return self._read_coverage(key).adjustment

    def missing(self, key: CacheKey, time_range: TimeRange) -> list[TimeRange]:
        """The parts of ``time_range`` the cache does not cover for ``key``.

        Parameters
        ----------
        key
            The series.
        time_range
            The range wanted.

        Returns
        -------
        list of TimeRange
            The uncovered parts in time order; empty when all is cached.
        """
        _check_time_range(time_range)
        return time_range.subtract(self.coverage(key))

    def path(self, key: CacheKey) -> Path:
        """Where the files of ``key`` live (they may not exist yet).

        Parameters
        ----------
        key
            The series.

        Returns
        -------
        pathlib.Path
            The series' directory.
        """
        _check_key(key)
        return self._location(key)

    def entries(self) -> list[CacheEntry]:
        """Describe every cached series.

        Returns
        -------
        list of CacheEntry
            One entry per series holding bars or coverage, sorted by key.

        Raises
        ------
        CacheError
            When a cache file cannot be read.
        """
        entries = []
        for key in self._keys():
            record = self._read_coverage(key)
            coverage = record.ranges
            statistics = self._statistics(key)
            if statistics.rows or coverage:
                entries.append(
                    CacheEntry(
                        key=key,
                        rows=statistics.rows,
                        first=statistics.first,
                        last=statistics.last,
                        size_bytes=statistics.size_bytes,
                        coverage=coverage,
                        adjustment=record.adjustment,
                    )
                )
        return entries

    def remove(self, key: CacheKey) -> None:
        """Delete the bars and coverage of ``key``; an unknown key is not an error.

        Parameters
        ----------
        key
            The series.
        """
        _check_key(key)
        if not self._holds(key):
            return
        with self._writer_lock(key):
            # Coverage is withdrawn first, so a crash midway never leaves it claiming lost bars.
            self._write_coverage(key, [], None)
            self._delete(key)

    def _fix_hint(self, key: CacheKey) -> str:
        """What to tell the user when the files of ``key`` are damaged."""
        return f"delete {self._location(key)} or run {self._remove_command(key)} and load again"

    def _remove_command(self, key: CacheKey) -> str:
        """The command that removes the series ``key``, quoted for a message."""
        return f"'quantdesk data rm {key.source}:{key.symbol} --timeframe {key.timeframe}'"

    @abstractmethod
    def _read(self, key: CacheKey, time_range: TimeRange) -> pd.DataFrame:
        """Return canonical bars including at least those in ``time_range``; more is fine."""

    @abstractmethod
    def _write(self, key: CacheKey, frame: pd.DataFrame) -> None:
        """Replace all bars of ``key`` by ``frame`` (canonical, possibly empty)."""

    @abstractmethod
    def _append(self, key: CacheKey, frame: pd.DataFrame) -> None:
        """Merge ``frame`` into the bars of ``key``; on equal timestamps its rows win."""

    @abstractmethod
    def _read_coverage(self, key: CacheKey) -> CoverageRecord:
        """The recorded coverage and adjustment basis of ``key``; empty when none is recorded."""

    @abstractmethod
    def _write_coverage(
        self, key: CacheKey, ranges: list[TimeRange], adjustment: str | None
    ) -> None:
        """Record ``ranges`` and ``adjustment`` as the whole coverage of ``key``, atomically."""

    @abstractmethod
    def _writer_lock(self, key: CacheKey) -> AbstractContextManager[object]:
        """A context that excludes every other writer of ``key``, across processes."""

    @abstractmethod
    def _delete(self, key: CacheKey) -> None:
        """Delete the bars and coverage of ``key``; its coverage is already withdrawn."""

    @abstractmethod
    def _holds(self, key: CacheKey) -> bool:
        """Whether the backend has anything stored for ``key``."""

    @abstractmethod
    def _keys(self) -> Iterable[CacheKey]:
        """Every series the backend holds files for."""

    @abstractmethod
    def _statistics(self, key: CacheKey) -> SeriesStatistics:
        """Row count, first and last bar time and size on disk of ``key``."""

    @abstractmethod
    def _location(self, key: CacheKey) -> Path:
        """The directory of ``key``."""


def _check_key(key: object) -> None:
    if not isinstance(key, CacheKey):
        raise InvalidInputError(
            f"expected a CacheKey, got {type(key).__name__}; build one with CacheKey.of(...)"
        )


def _check_time_range(time_range: object, *, name: str = "time_range") -> None:
    if not isinstance(time_range, TimeRange):
        raise InvalidInputError(
            f"{name} must be a TimeRange, got {type(time_range).__name__}; "
            "build one with TimeRange.of(start, end)"
        )


def _checked_frame(frame: object, covered: TimeRange) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"expected a pandas DataFrame of bars, got {type(frame).__name__}")
    if not is_canonical(frame):
        raise InvalidInputError(
            "the frame to cache is not canonical (UTC ns index named 'time', float64 "
            "open/high/low/close/volume, sorted, unique); pass it through validate_ohlcv first"
        )
    frame = validate_ohlcv(frame, allow_empty=True)
    index = pd.DatetimeIndex(frame.index)
    outside = (index < covered.start) | (index >= covered.end)
    if outside.any():
        first_outside = index[outside][0]
        raise InvalidInputError(
            f"bar at {first_outside} lies outside the covered range {covered}; "
            "trim the frame or widen the range"
        )
    return frame
