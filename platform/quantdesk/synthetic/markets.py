"""The sample markets: what each synthetic symbol looks like, and the span they cover.

The numbers are chosen to give plausible-looking series (BTC in the thousands
to tens of thousands, large US stocks in the tens to hundreds of dollars);
they are not fitted to, and do not reproduce, any real market.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from quantdesk.core.time_range import TimeRange
from quantdesk.errors import InvalidInputError, UnknownNameError

AssetClass = Literal["crypto", "stock"]
ASSET_CLASSES: tuple[AssetClass, ...] = ("crypto", "stock")

SAMPLE_SPAN = TimeRange.of("2015-01-01", "2026-01-01")
"""The half-open range every sample market covers: 2015-01-01 to 2026-01-01 (exclusive)."""


@dataclass(frozen=True)
class MarketSpec:
    """The character of one synthetic market.

    Attributes
    ----------
    symbol
        The symbol, for example ``"BTC/USDT"`` or ``"AAPL"``.
    asset_class
        ``"crypto"`` trades around the clock every day; ``"stock"`` trades
        in US regular sessions, 09:30 to 16:00 New York time, on weekdays.
    start_price
        The price at the start of :data:`SAMPLE_SPAN`.
    annual_drift
        The yearly growth of the long-run log price level, which the price
        wanders around (0.2 means about 22 % a year).
    annual_volatility
        The typical annualised volatility of log returns; the realised one
        moves around it in clusters.
    daily_volume
        The typical volume of one day (or session), in units of the asset.
    price_decimals
        Prices are rounded to this many decimals, the market's tick.
    volume_decimals
        Volumes are rounded to this many decimals (0 for whole shares).
    """

    symbol: str
    asset_class: AssetClass
    start_price: float
    annual_drift: float
    annual_volatility: float
    daily_volume: float
    price_decimals: int
    volume_decimals: int

    def __post_init__(self) -> None:
        if self.asset_class not in ASSET_CLASSES:
            raise InvalidInputError(
                f"asset class {self.asset_class!r} of {self.symbol!r} is unknown; "
                f"use one of {', '.join(ASSET_CLASSES)}"
            )
        for name in ("start_price", "annual_volatility", "daily_volume"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"{name} of {self.symbol!r} must be positive")
        for name in ("price_decimals", "volume_decimals"):
            if not 0 <= getattr(self, name) <= 8:
                raise InvalidInputError(f"{name} of {self.symbol!r} must lie between 0 and 8")

    @property
    def tick_size(self) -> float:
        """The smallest price step, ``10 ** -price_decimals``."""
        return float(10.0**-self.price_decimals)


_SPECS = (
    MarketSpec("BTC/USDT", "crypto", 315.0, 0.48, 0.70, 25_000.0, 2, 5),
    MarketSpec("ETH/USDT", "crypto", 12.0, 0.50, 0.85, 400_000.0, 2, 4),
    MarketSpec("SOL/USDT", "crypto", 0.8, 0.48, 1.00, 5_000_000.0, 4, 2),
    MarketSpec("AAPL", "stock", 27.0, 0.20, 0.27, 60_000_000.0, 2, 0),
    MarketSpec("MSFT", "stock", 46.0, 0.21, 0.25, 30_000_000.0, 2, 0),
    MarketSpec("GOOG", "stock", 26.0, 0.18, 0.28, 30_000_000.0, 2, 0),
    MarketSpec("SPY", "stock", 205.0, 0.11, 0.17, 80_000_000.0, 2, 0),
)

SAMPLE_MARKETS: Mapping[str, MarketSpec] = MappingProxyType({spec.symbol: spec for spec in _SPECS})
"""Every sample symbol and its :class:`MarketSpec`, read-only."""


def sample_market(symbol: str) -> MarketSpec:
    """Look up the spec of a sample symbol.

    Parameters
    ----------
    symbol
        A key of :data:`SAMPLE_MARKETS`, for example ``"ETH/USDT"``.

    Returns
    -------
    MarketSpec
        The symbol's spec.

    Raises
    ------
    UnknownNameError
        When the symbol is not a sample symbol; the message names close matches.
    """
    spec = SAMPLE_MARKETS.get(symbol)
    if spec is None:
        raise UnknownNameError("sample symbol", symbol, SAMPLE_MARKETS)
    return spec


def stream_seed(symbol: str, purpose: str) -> int:
    """A stable 128-bit seed for one random stream of one symbol.

    It is derived with BLAKE2b from the text alone, so it is the same in
    every process and on every machine (unlike Python's ``hash``).

    Parameters
    ----------
    symbol
        The sample symbol.
    purpose
        Which stream, for example ``"daily"`` or ``"bars-60"``.

    Returns
    -------
    int
        A non-negative integer below ``2 ** 128``.
    """
    digest = hashlib.blake2b(
        f"quantdesk-sample|{symbol}|{purpose}".encode(), digest_size=16
    ).digest()
    return int.from_bytes(digest, "big")
