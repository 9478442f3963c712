"""The market-data cache: ``quantdesk.list_cached_series`` and ``remove_cached_series``.

The workflows are the cache's own (:mod:`quantdesk.data.cache.inventory`);
this module is where the library's API and the command line reach them.
"""

from __future__ import annotations

from quantdesk.data.cache.inventory import (
    CachedSeries,
    CacheRemoval,
    RemovedSeries,
    list_cached_series,
    remove_cached_series,
)

__all__ = [
    "CacheRemoval",
    "CachedSeries",
    "RemovedSeries",
    "list_cached_series",
    "remove_cached_series",
]
