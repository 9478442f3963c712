"""Deterministic synthetic markets: the data behind the ``sample`` source.

Pure computation (NumPy and pandas, no I/O). A few crypto pairs trade around
the clock and a few US stocks trade in regular sessions, from 2015-01-01 to
2026-01-01, with clustered volatility, fat tails, trending and mean-reverting
regimes and volume that follows activity. Every value is fixed by the symbol,
the timeframe and the bar's start time, never by the range requested::

    from quantdesk.core.time_range import TimeRange
    from quantdesk.synthetic import generate_sample_bars

    bars = generate_sample_bars("BTC/USDT", "1h", TimeRange.of("2024-01-01", "2024-02-01"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantdesk.synthetic.markets import (
    SAMPLE_MARKETS,
    SAMPLE_SPAN,
    AssetClass,
    MarketSpec,
    sample_market,
)

if TYPE_CHECKING:
    from quantdesk.synthetic.generator import generate_sample_bars, market_regimes

_GENERATOR_NAMES = frozenset({"generate_sample_bars", "market_regimes"})
"""Loaded on first use: the ``sample`` source reads cached bars without the generator."""

__all__ = [
    "SAMPLE_MARKETS",
    "SAMPLE_SPAN",
    "AssetClass",
    "MarketSpec",
    "generate_sample_bars",
    "market_regimes",
    "sample_market",
]


def __getattr__(name: str) -> Any:
    if name not in _GENERATOR_NAMES:
        raise AttributeError(f"module 'quantdesk.synthetic' has no attribute {name!r}")
    from quantdesk.synthetic import generator

    return getattr(generator, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_GENERATOR_NAMES})
