"""Loading bars by address, through the Parquet cache.

``load_bars("sample:BTC/USDT", timeframe="1h", start=..., end=...)`` asks the
cache first. A full hit never calls the source; a partial hit asks the source
only for the missing ranges, stores them, and then reads the whole range back
from the cache. Bars that may still be forming (the current bar and later) are
fetched but never stored, so the cache holds only settled bars.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.time_range import TimeLike, TimeRange, to_utc_timestamp
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.cache import CacheKey, OHLCVStore, ParquetStore
from quantdesk.data.source import DataSource, SourceAddress, get_source
from quantdesk.errors import InvalidInputError

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
    time_range = _resolve_range(source, parsed.symbol, step, start, end)
    source.check_request(parsed.symbol, step, time_range)
    if not (use_cache and source.cacheable):
        frame = source.fetch(parsed.symbol, step, time_range)
        return LoadResult(frame, parsed, step, time_range, False, None, (time_range,))
    store = store if store is not None else ParquetStore.from_settings(settings)
    key = CacheKey(parsed.source, source.cache_symbol(parsed.symbol), step)
    settled_end = source.settled_before(step, pd.Timestamp.now(tz="UTC").as_unit("ns"))
    fetched: list[TimeRange] = []
    pieces: list[pd.DataFrame] = []
    if time_range.start < settled_end:
        settled = TimeRange(time_range.start, min(time_range.end, settled_end))
        for piece in store.missing(key, settled):
            logger.info("fetching %s %s %s from source %r", parsed.symbol, step, piece, source.name)
            store.save(key, source.fetch(parsed.symbol, step, piece), piece)
            fetched.append(piece)
        pieces.append(store.load(key, settled))
    if time_range.end > settled_end:
        forming = TimeRange(max(time_range.start, settled_end), time_range.end)
        pieces.append(source.fetch(parsed.symbol, step, forming))
        fetched.append(forming)
    frame = pieces[0] if len(pieces) == 1 else pd.concat(pieces)
    return LoadResult(frame, parsed, step, time_range, not fetched, store.path(key), tuple(fetched))


def load(
    address: str | SourceAddress,
    *,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Load bars as a canonical frame; see :func:`load_bars` for the details.

    Parameters
    ----------
    address
        ``SOURCE:SYMBOL``, for example ``"sample:BTC/USDT"``.
    timeframe
        The bar length, for example ``"1h"``.
    start, end
        The half-open range ``[start, end)``.
    settings
        quantdesk's settings; read from the environment when None.

    Returns
    -------
    pandas.DataFrame
        The canonical OHLCV frame.
    """
    result = load_bars(address, timeframe=timeframe, start=start, end=end, settings=settings)
    return result.frame


def _resolve_range(
    source: DataSource,
    symbol: str,
    timeframe: Timeframe,
    start: TimeLike | None,
    end: TimeLike | None,
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
        span = TimeRange(to_utc_timestamp(start, name="start"), _end_of_current_bar(timeframe))
    return TimeRange(
        to_utc_timestamp(start, name="start") if start is not None else span.start,
        to_utc_timestamp(end, name="end") if end is not None else span.end,
    )


def _end_of_current_bar(timeframe: Timeframe) -> pd.Timestamp:
    return timeframe.bar_start(pd.Timestamp.now(tz="UTC")) + timeframe.timedelta
