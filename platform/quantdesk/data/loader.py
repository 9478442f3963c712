"""Loading bars by address, through the Parquet cache.

``load_bars("sample:BTC/USDT", timeframe="1h", start=..., end=...)`` asks the
cache first. A full hit never calls the source; a partial hit asks the source
only for the missing ranges, stores them, and then reads the whole range back
from the cache. Bars that may still be forming (the current bar and later) are
fetched but never stored, so the cache holds only settled bars.

Adjusted prices are restated by the provider at every split or dividend, so
when a series' adjustment basis may be restated (or was never recorded), the
first fetch that extends it reaches one cached bar further and compares that
bar. When the provider sent it differently, or the series was cached on
another basis, the whole series is fetched again and replaces the cached one;
when that is impossible the load is refused, naming ``quantdesk data rm``.
Old and new history are never mixed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.time_range import TimeLike, TimeRange, to_utc_timestamp
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.adjustment import first_restated_bar, may_be_restated
from quantdesk.data.cache import CacheKey, OHLCVStore, ParquetStore
from quantdesk.data.source import DataSource, SourceAddress, get_source
from quantdesk.errors import FatalSourceError, InvalidInputError

Clock = Callable[[], pd.Timestamp]
"""Returns the current time; tests pass a fixed one instead of waiting for the wall clock."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    """Bars and how they were obtained.

    Attributes
    ----------
    frame
        The canonical OHLCV frame.
    address
        Where the bars come from.
    timeframe
        Their timeframe.
    time_range
        The requested half-open range.
    cache_hit
        True when the source was not called at all.
    cache_path
        The cache directory of this series, or None when it was not cached.
    fetched_ranges
        The ranges the source was asked for.
    """

    frame: pd.DataFrame = field(repr=False)
    address: SourceAddress
    timeframe: Timeframe
    time_range: TimeRange
    cache_hit: bool
    cache_path: Path | None
    fetched_ranges: tuple[TimeRange, ...] = ()

    @property
    def rows(self) -> int:
        """How many bars were loaded."""
        return len(self.frame)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: source, symbol, timeframe, rows, first and last bar, cache use.

        Returns
        -------
        dict
            ``start`` and ``end`` are the first and last bar's times (ISO,
            UTC), or None when no bar was loaded.
        """
        index = self.frame.index
        return {
            "source": self.address.source,
            "symbol": self.address.symbol,
            "timeframe": self.timeframe.text,
            "rows": self.rows,
            "start": index[0].isoformat() if len(index) else None,
            "end": index[-1].isoformat() if len(index) else None,
            "cache_hit": self.cache_hit,
            "cache_path": None if self.cache_path is None else str(self.cache_path),
            "requested_start": self.time_range.start.isoformat(),
            "requested_end": self.time_range.end.isoformat(),
            "fetched_ranges": [
                [piece.start.isoformat(), piece.end.isoformat()] for piece in self.fetched_ranges
            ],
        }


def load_bars(
    address: str | SourceAddress,
    *,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    settings: Settings | None = None,
    use_cache: bool = True,
    store: OHLCVStore | None = None,
    clock: Clock | None = None,
) -> LoadResult:
    """Load the bars at ``address`` for ``[start, end)``, using the cache.

    Parameters
    ----------
    address
        ``SOURCE:SYMBOL``, for example ``"sample:BTC/USDT"``.
    timeframe
        The bar length; defaults to the source's only timeframe (a CSV
        file's), else ``settings.default_timeframe``.
    start, end
        The half-open range of bar start times; naive times are UTC. Either
        may be left out when the source knows its span (the sample and CSV
        sources do).
    settings
        quantdesk's settings; read from the environment when None.
    use_cache
        Set False to call the source and leave the cache alone.
    store
        The cache to use; defaults to the Parquet cache under the settings' cache dir.
    clock
        Returns the current time (UTC); the wall clock when None. It decides
        which bars have settled (and may be cached) and where an open range ends.

    Returns
    -------
    LoadResult
        The frame, with how it was obtained.
    """
    settings = settings if settings is not None else Settings.load()
    parsed = SourceAddress.parse(address)
    source = get_source(parsed.source, settings)
    if timeframe is None:
        timeframe = source.native_timeframe(parsed.symbol) or settings.default_timeframe
    step = Timeframe.parse(timeframe)
    now = utc_now() if clock is None else to_utc_timestamp(clock(), name="clock()")
    time_range = _resolve_range(source, parsed.symbol, step, start, end, now)
    source.check_request(parsed.symbol, step, time_range)
    if not (use_cache and source.cacheable):
        frame = source.fetch(parsed.symbol, step, time_range)
        return LoadResult(frame, parsed, step, time_range, False, None, (time_range,))
    store = store if store is not None else ParquetStore.from_settings(settings)
    key = CacheKey(parsed.source, source.cache_symbol(parsed.symbol), step)
    settled_end = source.settled_before(step, now.as_unit("ns"))
    series = _CachedSeries(store, key, source, parsed.symbol)
    settled = (
        TimeRange(time_range.start, min(time_range.end, settled_end))
        if time_range.start < settled_end
        else None
    )
    forming = (
        TimeRange(max(time_range.start, settled_end), time_range.end)
        if time_range.end > settled_end
        else None
    )
    fetched: list[TimeRange] = []
    restated = series.on_another_basis()
    if not restated and settled is not None:
        for piece in store.missing(key, settled):
            logger.info("fetching %s %s %s from source %r", parsed.symbol, step, piece, source.name)
            bars = series.fetch_checked(piece)
            if bars is None:
                restated = True
                break
            store.save(key, bars, piece, adjustment=series.basis)
            fetched.append(piece)
    forming_frame = None
    if not restated and forming is not None:
        forming_frame = series.fetch_checked(forming)
        restated = forming_frame is None
    if restated:
        fetched.append(series.fetch_again_whole(settled))
        if forming is not None:
            forming_frame = source.fetch(parsed.symbol, step, forming)
    pieces: list[pd.DataFrame] = []
    if settled is not None:
        pieces.append(store.load(key, settled))
    if forming is not None and forming_frame is not None:
        pieces.append(forming_frame)
        fetched.append(forming)
    frame = pieces[0] if len(pieces) == 1 else pd.concat(pieces)
    return LoadResult(frame, parsed, step, time_range, not fetched, store.path(key), tuple(fetched))


class _CachedSeries:
    """One cached series and its source, checked for restated history as it is extended."""

    def __init__(self, store: OHLCVStore, key: CacheKey, source: DataSource, symbol: str) -> None:
        self.store = store
        self.key = key
        self.source = source
        self.symbol = symbol
        self.basis = source.adjustment(symbol)
        self.recorded = store.adjustment(key)
        # One agreeing bar per load shows the cached history matches the provider's.
        self.verified = not (may_be_restated(self.basis) or self.recorded is None)

    def on_another_basis(self) -> bool:
        """Whether the cached bars were recorded with a basis other than the source's."""
        if self.recorded is None or self.recorded == self.basis:
            return False
        if not self.store.coverage(self.key):
            return False
        logger.warning(
            "the cached bars of %s are adjusted on basis %r but source %r sends %r; "
            "fetching the whole series again",
            self.key,
            self.recorded,
            self.source.name,
            self.basis,
        )
        return True

    def fetch_checked(self, piece: TimeRange) -> pd.DataFrame | None:
        """Fetch ``piece``, reaching one cached bar further to compare it when unverified.

        Returns
        -------
        pandas.DataFrame or None
            The bars of ``piece``; None when the provider restated the cached bar.
        """
        timeframe = self.key.timeframe
        probe = None if self.verified else self._nearest_cached_bar(piece)
        if probe is None:
            frame = self.source.fetch(self.symbol, timeframe, piece)
            # Nothing cached to disagree with: from here on the series is this fetch's.
            self.verified = True
            return frame
        probe_time = pd.Timestamp(probe.index[0])
        probe_range = TimeRange(probe_time, timeframe.shift(probe_time))
        far = (
            probe_range.end < piece.start - self._near or probe_range.start > piece.end + self._near
        )
        # A bar too far to fetch along with the piece is asked for on its own.
        checked = (
            probe_range
            if far
            else TimeRange(min(piece.start, probe_range.start), max(piece.end, probe_range.end))
        )
        try:
            again = self.source.fetch(self.symbol, timeframe, checked)
        except FatalSourceError as error:
            raise self._refusal(
                f"its bar at {probe_time.isoformat()} cannot be fetched again to check it "
                f"({_first_line(error)})"
            ) from None
        restated_at = first_restated_bar(probe, again)
        if restated_at is not None:
            logger.warning(
                "source %r restated the history of %s (the bar at %s changed since it was "
                "cached, as after a split or dividend); fetching the whole series again",
                self.source.name,
                self.key,
                restated_at.isoformat(),
            )
            return None
        self.verified = True
        if far:
            return self.source.fetch(self.symbol, timeframe, piece)
        index = again.index
        return again[(index >= piece.start) & (index < piece.end)]

    def fetch_again_whole(self, wanted: TimeRange | None) -> TimeRange:
        """Fetch every range the series covers, plus ``wanted``, and replace the series.

        Returns
        -------
        TimeRange
            The range fetched.

        Raises
        ------
        FatalSourceError
            When the source cannot serve the whole range again; the message
            names the ``quantdesk data rm`` command that clears the series.
        """
        known = [*self.store.coverage(self.key), *([wanted] if wanted is not None else [])]
        whole = TimeRange(min(piece.start for piece in known), max(piece.end for piece in known))
        try:
            frame = self.source.fetch(self.symbol, self.key.timeframe, whole)
        except FatalSourceError as error:
            raise self._refusal(
                "they no longer match what the source sends (history restated or adjusted "
                f"on another basis) and the whole series {whole} cannot be fetched again "
                f"({_first_line(error)})"
            ) from None
        self.store.replace(self.key, frame, whole, adjustment=self.basis)
        self.verified = True
        return whole

    def _refusal(self, problem: str) -> FatalSourceError:
        """The one-line refusal to extend the series, naming the command that clears it."""
        return FatalSourceError(
            f"cannot extend the cached bars of {self.key} from source {self.source.name!r}: "
            f"{problem}; run 'quantdesk data rm {self.key.source}:{self.key.symbol} "
            f"--timeframe {self.key.timeframe}' and load again"
        )

    def _nearest_cached_bar(self, piece: TimeRange) -> pd.DataFrame | None:
        """The cached bar just before ``piece``, else the one just after; None without bars."""
        coverage = self.store.coverage(self.key)
        if not coverage:
            return None
        earliest, latest = coverage[0].start, coverage[-1].end
        reach = self._near
        start = piece.start
        while start > earliest:
            start = max(earliest, piece.start - reach)
            before = self.store.load(self.key, TimeRange(start, piece.start))
            if not before.empty:
                return before.iloc[-1:]
            reach *= 2
        reach = self._near
        end = piece.end
        while end < latest:
            end = min(latest, piece.end + reach)
            after = self.store.load(self.key, TimeRange(piece.end, end))
            if not after.empty:
                return after.iloc[:1]
            reach *= 2
        return None

    @property
    def _near(self) -> pd.Timedelta:
        """How far from a fetch a cached bar may lie to be fetched along with it."""
        return max(pd.Timedelta(days=7), 10 * self.key.timeframe.longest_timedelta)


def _resolve_range(
    source: DataSource,
    symbol: str,
    timeframe: Timeframe,
    start: TimeLike | None,
    end: TimeLike | None,
    now: pd.Timestamp,
) -> TimeRange:
    if start is not None and end is not None:
        return TimeRange.of(start, end)
    span = source.available_range(symbol, timeframe)
    if span is None:
        if start is None:
            raise InvalidInputError(
                f"source {source.name!r} cannot tell where {symbol}'s history begins: give a "
                "start, e.g. --start 2024-01-01 (the end defaults to now)"
            )
        span = TimeRange(
            to_utc_timestamp(start, name="start"), timeframe.shift(timeframe.bar_start(now))
        )
    return TimeRange(
        to_utc_timestamp(start, name="start") if start is not None else span.start,
        to_utc_timestamp(end, name="end") if end is not None else span.end,
    )


def utc_now() -> pd.Timestamp:
    """The wall clock's time in UTC: the loader's clock unless one is passed.

    Returns
    -------
    pandas.Timestamp
        Now, tz-aware UTC.
    """
    return pd.Timestamp.now(tz="UTC")


def _first_line(error: BaseException) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__
