"""The identity of one cached series: a source, a symbol and a timeframe."""

from __future__ import annotations

from dataclasses import dataclass

from quantdesk.core.timeframe import Timeframe
from quantdesk.errors import InvalidInputError


@dataclass(frozen=True)
class CacheKey:
    """One series of bars in the cache, e.g. ``sample``, ``BTC/USDT``, ``1h``.

    The symbol is stored as the source names it (see
    :meth:`~quantdesk.data.source.DataSource.cache_symbol`); any text is
    accepted, since the on-disk layout escapes it.
    """

    source: str
    symbol: str
    timeframe: Timeframe

    def __post_init__(self) -> None:
        for field_name in ("source", "symbol"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not value:
                raise InvalidInputError(
                    f"cache key {field_name} must be non-empty text, got {value!r}"
                )
        if not isinstance(self.timeframe, Timeframe):
            raise InvalidInputError(
                f"cache key timeframe must be a Timeframe, got {self.timeframe!r}; "
                "use CacheKey.of(source, symbol, '1h')"
            )

    @classmethod
    def of(cls, source: str, symbol: str, timeframe: Timeframe | str) -> CacheKey:
        """Build a key, parsing the timeframe from text if needed.

        Parameters
        ----------
        source
            The source name, for example ``"sample"``.
        symbol
            The symbol within that source, for example ``"BTC/USDT"``.
        timeframe
            The bar length, as a ``Timeframe`` or text such as ``"1h"``.

        Returns
        -------
        CacheKey
            The key.
        """
        return cls(source, symbol, Timeframe.parse(timeframe))

    def __str__(self) -> str:
        return f"{self.source}:{self.symbol} {self.timeframe}"
