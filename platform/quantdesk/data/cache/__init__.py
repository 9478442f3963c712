"""The Parquet cache of OHLCV bars.

:class:`ParquetStore` keeps each series (source, symbol, timeframe) in its
own directory of time-chunk files plus a record of the ranges known;
:class:`OHLCVStore` is the interface other backends would implement.
"""

from __future__ import annotations

from quantdesk.data.cache.key import CacheKey
from quantdesk.data.cache.parquet import ParquetStore
from quantdesk.data.cache.store import CacheEntry, OHLCVStore

__all__ = ["CacheEntry", "CacheKey", "OHLCVStore", "ParquetStore"]
