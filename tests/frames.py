"""Small builders of OHLCV frames for tests."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd


def bars_from_closes(
    closes: Sequence[float],
    *,
    start: str = "2024-01-01",
    frequency: str = "1h",
    spread: float = 0.5,
    volume: float | Sequence[float] = 1_000.0,
) -> pd.DataFrame:
    """Build a canonical frame whose opens are the previous closes.

    High and low sit ``spread`` above and below the larger and smaller of
    open and close.
    """
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.r_[close[0], close[:-1]]
    times = pd.date_range(start, periods=len(close), freq=frequency, tz="UTC")
    index = pd.DatetimeIndex(times.as_unit("ns"), freq=None, name="time")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": np.broadcast_to(np.asarray(volume, dtype=np.float64), close.shape).copy(),
        },
        index=index,
    )


@functools.cache
def sample_bars(symbol: str, timeframe: str, start: str, end: str) -> pd.DataFrame:
    """The sample source's bars for a symbol and span, generated once per test session."""
    # Imported here: tests/test_import_discipline.py runs this module and counts what loads.
    from quantdesk.core.time_range import TimeRange
    from quantdesk.synthetic import generate_sample_bars

    return generate_sample_bars(symbol, timeframe, TimeRange.of(start, end))
