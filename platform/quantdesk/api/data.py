"""Market data: load bars by address, list the sources, resample and find gaps.

The workflows are the data layer's and the core's own; this module is where
the library's API and the command line reach them.
"""

from __future__ import annotations

from quantdesk.core.gaps import gap_report
from quantdesk.core.resample import resample_ohlcv
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.loader import LoadResult, load_bars
from quantdesk.data.source import DataSource, SourceAddress, available_sources

__all__ = [
    "DataSource",
    "LoadResult",
    "SourceAddress",
    "Timeframe",
    "available_sources",
    "gap_report",
    "load_bars",
    "resample_ohlcv",
]
