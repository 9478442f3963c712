"""What the cache holds, series by series, and removing series from it.

:func:`list_cached_series` describes every cached series: its range, bar
count, chunk files, size on disk and when it was last written.
:func:`remove_cached_series` deletes one series, every timeframe of a symbol,
or the whole cache. Removal goes through :meth:`ParquetStore.remove`, which
holds the series' writer lock and withdraws the coverage before deleting the
bars, so a concurrent writer waits and a concurrent reader sees the series
either whole or gone. Removal reads no bar, so it also clears a series whose
files are damaged. Series directories and their lock files stay, empty: a
writer may be waiting on that lock.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.cache.chunks import ChunkPeriod
from quantdesk.data.cache.coverage import COVERAGE_FILE_NAME
from quantdesk.data.cache.key import CacheKey
from quantdesk.data.cache.layout import series_directories
from quantdesk.data.cache.parquet import LOCK_FILE_NAME, ParquetStore
from quantdesk.data.source import SourceAddress, get_source
from quantdesk.errors import CacheError, InvalidInputError, QuantdeskError

_MOST_NAMED = 5


@dataclass(frozen=True)
class CachedSeries:
    """One cached series, as ``quantdesk data ls`` shows it.

    Attributes
    ----------
    key
        The series: source, symbol and timeframe.
    rows
        How many bars it holds.
    first, last
        The start times of its first and last bar (UTC); None without bars.
    chunk_files
        How many Parquet chunk files hold the bars.
    size_bytes
        The size of the series' files on disk, in bytes.
    last_written
        When a bar or coverage file of the series was last written (UTC).
    coverage
        The ranges known to the cache, merged and sorted; they may include
        ranges without bars (a weekend).
    path
        The series' directory.
    adjustment
        The recorded adjustment basis of its bars (``"all"``, ``"split"``,
        ...); None when it was cached before bases were recorded.
    """

    key: CacheKey
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    chunk_files: int
    size_bytes: int
    last_written: pd.Timestamp | None
    coverage: tuple[TimeRange, ...]
    path: Path
    adjustment: str | None = None

    @property
    def address(self) -> str:
        """The series' ``SOURCE:SYMBOL`` address, as ``quantdesk data fetch`` takes it."""
        return f"{self.key.source}:{self.key.symbol}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description, times as ISO text in UTC.

        Returns
        -------
        dict
            ``source``, ``symbol``, ``timeframe``, ``rows``, ``first``,
            ``last``, ``chunk_files``, ``size_bytes``, ``last_written``,
            ``coverage`` (pairs of ``[start, end)``), ``path`` and
            ``adjustment`` (the recorded basis, None when unknown).
        """
        return {
            "source": self.key.source,
            "symbol": self.key.symbol,
            "timeframe": self.key.timeframe.text,
            "rows": self.rows,
            "first": _iso(self.first),
            "last": _iso(self.last),
            "chunk_files": self.chunk_files,
            "size_bytes": self.size_bytes,
            "last_written": _iso(self.last_written),
            "coverage": [
                [piece.start.isoformat(), piece.end.isoformat()] for piece in self.coverage
            ],
            "path": str(self.path),
            "adjustment": self.adjustment,
        }


@dataclass(frozen=True)
class RemovedSeries:
    """One series :func:`remove_cached_series` deleted, and what that freed.

    ``bytes_freed`` is the size of its files (all but the lock file) measured
    just before the removal took the series' lock.
    """

    key: CacheKey
    chunk_files: int
    bytes_freed: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description.

        Returns
        -------
        dict
            ``source``, ``symbol``, ``timeframe``, ``chunk_files`` and ``bytes_freed``.
        """
        return {
            "source": self.key.source,
            "symbol": self.key.symbol,
            "timeframe": self.key.timeframe.text,
            "chunk_files": self.chunk_files,
            "bytes_freed": self.bytes_freed,
        }


@dataclass(frozen=True)
class CacheRemoval:
    """What :func:`remove_cached_series` deleted, in key order."""

    series: tuple[RemovedSeries, ...]

    @property
    def bytes_freed(self) -> int:
        """The bytes freed on disk, over every removed series."""
        return sum(removed.bytes_freed for removed in self.series)


def list_cached_series(
    settings: Settings | None = None,
    *,
    source: str | None = None,
    symbol: str | None = None,
    store: ParquetStore | None = None,
) -> list[CachedSeries]:
    """Describe every cached series, sorted by source, symbol and timeframe.

    Parameters
    ----------
    settings
        quantdesk's settings, naming the cache directory; read from the
        environment when None.
    source
        Keep only the series of this source, for example ``"sample"``.
    symbol
        Keep only the series of this symbol, as the cache names it, for
        example ``"BTC/USDT"``.
    store
        The cache; defaults to the Parquet cache the settings point at.

    Returns
    -------
    list of CachedSeries
        One entry per series holding bars or coverage; empty for an empty cache.

    Raises
    ------
    CacheError
        When a cache file cannot be read; the message names the
        ``quantdesk data rm`` that clears it.
    """
    store = _store(settings, store)
    found = []
    for entry in store.entries():
        key = entry.key
        if (source is not None and key.source != source.strip().lower()) or (
            symbol is not None and key.symbol != symbol.strip()
        ):
            continue
        directory = store.path(key)
        chunk_files, _size, last_written = _files_of(key, directory)
        found.append(
            CachedSeries(
                key=key,
                rows=entry.rows,
                first=entry.first,
                last=entry.last,
                chunk_files=len(chunk_files),
                size_bytes=entry.size_bytes,
                last_written=last_written,
                coverage=entry.coverage,
                path=directory,
                adjustment=entry.adjustment,
            )
        )
    return found


def remove_cached_series(
    address: str | SourceAddress | None = None,
    *,
    timeframe: Timeframe | str | None = None,
    every_series: bool = False,
    settings: Settings | None = None,
    store: ParquetStore | None = None,
) -> CacheRemoval:
    """Delete cached series: one, every timeframe of a symbol, or all of them.

    Each series is deleted under its writer lock, coverage first, so a
    concurrent load either finds the series whole or fetches it afresh.

    Parameters
    ----------
    address
        ``SOURCE:SYMBOL``, as given to ``quantdesk data fetch``; the symbol is
        also tried as the source normalises it for the cache.
    timeframe
        Remove only this timeframe of ``address``; every cached timeframe
        of it when None.
    every_series
        Remove every cached series; ``address`` and ``timeframe`` must then
        be left out.
    settings
        quantdesk's settings, naming the cache directory; read from the
        environment when None.
    store
        The cache; defaults to the Parquet cache the settings point at.

    Returns
    -------
    CacheRemoval
        The series removed and the bytes freed; no series when ``every_series``
        finds the cache empty.

    Raises
    ------
    InvalidInputError
        When the request is ambiguous, or nothing is cached for ``address``
        (the message names the cached close matches).
    CacheError
        When a cache file cannot be deleted.
    """
    if every_series and (address is not None or timeframe is not None):
        raise InvalidInputError(
            "name either one address (with an optional timeframe) or every series, not both"
        )
    if not every_series and address is None:
        raise InvalidInputError(
            "name the series to remove, e.g. 'sample:BTC/USDT' with timeframe '1h', "
            "or ask for every series to empty the cache"
        )
    settings = settings if settings is not None else Settings.load()
    store = _store(settings, store)
    held = _held_keys(store)
    chosen = held if address is None else _chosen_keys(held, address, timeframe, settings)
    removed = []
    for key in chosen:
        chunk_files, size, _last_written = _files_of(key, store.path(key))
        store.remove(key)
        removed.append(RemovedSeries(key, len(chunk_files), size))
    return CacheRemoval(tuple(removed))


def _store(settings: Settings | None, store: ParquetStore | None) -> ParquetStore:
    if store is not None:
        return store
    return ParquetStore.from_settings(settings if settings is not None else Settings.load())


def _files_of(key: CacheKey, directory: Path) -> tuple[list[Path], int, pd.Timestamp | None]:
    """The chunk files of a series, the bytes its files other than the lock take, the last write."""
    period = ChunkPeriod.for_timeframe(key.timeframe)
    chunk_files = []
    size = 0
    newest: int | None = None
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return [], 0, None
    except OSError as error:
        raise CacheError(
            f"cannot list cache directory {directory} ({error.strerror}); check its permissions"
        ) from None
    for name in names:
        if name == LOCK_FILE_NAME:
            continue
        path = directory / name
        try:
            status = path.stat()
        except FileNotFoundError:
            continue  # a concurrent writer renamed its temporary file
        size += status.st_size
        if period.chunk_of_name(name) is not None or name == COVERAGE_FILE_NAME:
            newest = max(newest or 0, status.st_mtime_ns)
            if name != COVERAGE_FILE_NAME:
                chunk_files.append(path)
    last_written = None if newest is None else pd.Timestamp(newest, unit="ns", tz="UTC")
    return sorted(chunk_files), size, last_written


def _held_keys(store: ParquetStore) -> list[CacheKey]:
    """Every series with bars or coverage, found from file names alone (nothing is read)."""
    try:
        directories = series_directories(store.root)
    except OSError as error:
        raise CacheError(
            f"cannot list the cache under {store.root} ({error.strerror}); check its permissions"
        ) from None
    held = []
    for key, directory in directories:
        chunk_files, _size, last_written = _files_of(key, directory)
        if chunk_files or last_written is not None:
            held.append(key)
    return held


def _chosen_keys(
    held: list[CacheKey],
    address: str | SourceAddress,
    timeframe: Timeframe | str | None,
    settings: Settings,
) -> list[CacheKey]:
    parsed = SourceAddress.parse(address)
    symbols = {parsed.symbol, _cache_symbol(parsed, settings)}
    of_symbol = [key for key in held if key.source == parsed.source and key.symbol in symbols]
    if not of_symbol:
        raise InvalidInputError(f"nothing cached for {str(parsed)!r}; {_cached_hint(parsed, held)}")
    if timeframe is None:
        return of_symbol
    wanted = Timeframe.parse(timeframe)
    chosen = [key for key in of_symbol if key.timeframe == wanted]
    if not chosen:
        cached = ", ".join(key.timeframe.text for key in of_symbol)
        raise InvalidInputError(
            f"nothing cached for {str(parsed)!r} at {wanted}; it is cached at {cached}: "
            "choose one of those timeframes, or none to remove them all"
        )
    return chosen


def _cache_symbol(address: SourceAddress, settings: Settings) -> str:
    """The symbol as the source names it in the cache; as typed when the source is unknown."""
    try:
        return get_source(address.source, settings).cache_symbol(address.symbol)
    except QuantdeskError:
        return address.symbol  # e.g. a plug-in uninstalled since it filled the cache


def _cached_hint(address: SourceAddress, held: list[CacheKey]) -> str:
    """Name the cached addresses closest to ``address``: its source's symbols when it has any."""
    cached = sorted({f"{key.source}:{key.symbol}" for key in held})
    if not cached:
        return "the cache is empty"
    of_source = {
        key.symbol.lower(): f"{key.source}:{key.symbol}"
        for key in held
        if key.source == address.source
    }
    if of_source:
        candidates, typed = of_source, address.symbol.lower()
    else:
        candidates, typed = {text.lower(): text for text in cached}, str(address).lower()
    if typed in candidates:  # differs only in case
        close = [typed]
    else:
        close = difflib.get_close_matches(typed, list(candidates), n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(repr(candidates[match]) for match in close)}?"
    listed = ", ".join(cached[:_MOST_NAMED])
    more = f" and {len(cached) - _MOST_NAMED} more" if len(cached) > _MOST_NAMED else ""
    return f"cached are {listed}{more} (see 'quantdesk data ls')"


def _iso(time: pd.Timestamp | None) -> str | None:
    return None if time is None else time.isoformat()
