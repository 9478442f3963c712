"""The market-data cache: ``quantdesk.list_cached_series`` and ``remove_cached_series``.

Both work on the cache directory the settings name (``QUANTDESK_CACHE_DIR``,
or ``cache`` under the data directory), read from the environment unless
given.
"""

from __future__ import annotations

from quantdesk.config import Settings
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.cache import inventory
from quantdesk.data.cache.inventory import CachedSeries, CacheRemoval, RemovedSeries
from quantdesk.data.source import SourceAddress

__all__ = [
    "CacheRemoval",
    "CachedSeries",
    "RemovedSeries",
    "list_cached_series",
    "remove_cached_series",
]


def list_cached_series(
    settings: Settings | None = None, *, source: str | None = None, symbol: str | None = None
) -> list[CachedSeries]:
    """Describe every cached series, sorted by source, symbol and timeframe.

    Parameters
    ----------
    settings
        quantdesk's settings, naming the cache directory; read from the
        environment when None.
    source
        Only the series of this source, for example ``"sample"``.
    symbol
        Only the series of this symbol as the cache names it, e.g. ``"BTC/USDT"``.

    Returns
    -------
    list of CachedSeries
        One entry a series; empty for an empty cache.
    """
    return inventory.list_cached_series(settings, source=source, symbol=symbol)


def remove_cached_series(
    address: str | SourceAddress | None = None,
    *,
    timeframe: Timeframe | str | None = None,
    every_series: bool = False,
    settings: Settings | None = None,
) -> CacheRemoval:
    """Delete cached series: one, every timeframe of a symbol, or all of them.

    Parameters
    ----------
    address
        ``SOURCE:SYMBOL``, as given to :func:`quantdesk.load`.
    timeframe
        Only this timeframe of ``address``; every cached one when None.
    every_series
        Remove every cached series; leave ``address`` and ``timeframe`` out.
    settings
        quantdesk's settings, naming the cache directory; read from the
        environment when None.

    Returns
    -------
    CacheRemoval
        The series removed and the bytes freed.
    """
    return inventory.remove_cached_series(
        address, timeframe=timeframe, every_series=every_series, settings=settings
    )
