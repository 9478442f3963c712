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
    """The series in the settings' cache directory, of one ``source`` or ``symbol`` if given.

    Returns
    -------
    list of CachedSeries
        Sorted by source, symbol and timeframe; ``settings`` are read from
        the environment when None.
    """
    return inventory.list_cached_series(settings, source=source, symbol=symbol)


def remove_cached_series(
    address: str | SourceAddress | None = None,
    *,
    timeframe: Timeframe | str | None = None,
    every_series: bool = False,
    settings: Settings | None = None,
) -> CacheRemoval:
    """Delete the cached ``address`` (``SOURCE:SYMBOL``), in one ``timeframe`` or all of them.

    With ``every_series`` (and no address) the whole cache is emptied.

    Returns
    -------
    CacheRemoval
        The series removed and the bytes freed; ``settings`` are read from
        the environment when None.
    """
    return inventory.remove_cached_series(
        address, timeframe=timeframe, every_series=every_series, settings=settings
    )
