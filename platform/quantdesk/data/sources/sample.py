"""The ``sample`` source: deterministic synthetic markets, no network, no files.

Addresses look like ``sample:BTC/USDT`` or ``sample:AAPL``. The bars come from
:func:`quantdesk.synthetic.generate_sample_bars`; see that package for the
model. They are made up and must never be mistaken for real prices.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.source import DataSource
from quantdesk.errors import FatalSourceError
from quantdesk.synthetic import SAMPLE_MARKETS, SAMPLE_SPAN


class SampleSource(DataSource):
    """Synthetic crypto (24/7) and US stock (regular sessions) bars, 2015 to 2025.

    Every timeframe from ``1m`` to ``1w`` is served, and ``1M``. A range that reaches
    beyond 2015-01-01 to 2026-01-01 is served for the part inside it; a range
    wholly outside is refused.
    """

    name = "sample"
    description = (
        "deterministic synthetic markets (BTC/USDT, ETH/USDT, SOL/USDT around the clock; "
        "AAPL, MSFT, GOOG, SPY in US sessions), 2015-01-01 to 2026-01-01; not real prices"
    )

    def symbols(self) -> Sequence[str]:
        """The sample symbols, crypto pairs first.

        Returns
        -------
        tuple of str
            Every symbol this source serves.
        """
        return tuple(SAMPLE_MARKETS)

    def check_request(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> None:
        """Refuse unknown symbols and ranges that lie wholly outside the sample span.

        Raises
        ------
        FatalSourceError
            For a symbol that is not a sample symbol (naming close matches),
            or a range with no instant between 2015-01-01 and 2026-01-01.
        """
        super().check_request(symbol, timeframe, time_range)
        if not time_range.overlaps(SAMPLE_SPAN):
            raise FatalSourceError(
                f"sample data covers {SAMPLE_SPAN.start.date()} to {SAMPLE_SPAN.end.date()} "
                f"(end excluded), not {time_range}; ask for a range inside it"
            )

    def available_range(self, symbol: str, timeframe: Timeframe) -> TimeRange:
        """The whole sample span, used when a load names no start or end.

        Returns
        -------
        TimeRange
            2015-01-01 to 2026-01-01, end excluded.
        """
        return SAMPLE_SPAN

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        from quantdesk.synthetic import generate_sample_bars

        return generate_sample_bars(symbol, timeframe, time_range)
