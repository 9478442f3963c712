"""When the sample markets trade: every day for crypto, US regular sessions for stocks.

The stock calendar is simplified: weekdays from 09:30 to 16:00 New York time,
with daylight saving handled by the time zone, closed on three fixed
holidays (1 January, 4 July, 25 December). It is not the real NYSE calendar.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantdesk.synthetic.markets import SAMPLE_SPAN, AssetClass

NANOSECONDS_PER_SECOND = 1_000_000_000
SECONDS_PER_DAY = 86_400
NANOSECONDS_PER_DAY = SECONDS_PER_DAY * NANOSECONDS_PER_SECOND
EXCHANGE_TIMEZONE = "America/New_York"
SESSION_OPEN = pd.Timedelta(hours=9, minutes=30)
SESSION_SECONDS = 6 * 3_600 + 30 * 60
FIXED_HOLIDAYS: tuple[tuple[int, int], ...] = ((1, 1), (7, 4), (12, 25))
"""(month, day) of the days the synthetic stock market is closed, besides weekends."""


@dataclass(frozen=True)
class TradingDays:
    """The trading days of one asset class over :data:`SAMPLE_SPAN`.

    Attributes
    ----------
    day_numbers
        Each trading day as whole days since 1970-01-01 (UTC date), ascending.
    session_opens
        When each day's trading starts, in epoch nanoseconds: midnight UTC for
        crypto, 09:30 New York time for stocks.
    session_seconds
        How long a day's trading lasts.
    """

    day_numbers: npt.NDArray[np.int64]
    session_opens: npt.NDArray[np.int64]
    session_seconds: int


@functools.cache
def trading_days(asset_class: AssetClass) -> TradingDays:
    """The trading days of an asset class over the whole sample span (memoised).

    Parameters
    ----------
    asset_class
        ``"crypto"`` (every calendar day) or ``"stock"`` (weekday sessions).

    Returns
    -------
    TradingDays
        Read-only arrays of day numbers and session opens.
    """
    dates = pd.date_range(
        SAMPLE_SPAN.start.tz_localize(None),
        SAMPLE_SPAN.end.tz_localize(None),
        freq="D",
        inclusive="left",
    ).as_unit("ns")
    if asset_class == "crypto":
        opens = dates.asi8.copy()
        session_seconds = SECONDS_PER_DAY
    else:
        holiday = np.zeros(len(dates), dtype=bool)
        for month, day in FIXED_HOLIDAYS:
            holiday |= (dates.month == month) & (dates.day == day)
        dates = dates[(dates.day_of_week < 5) & ~holiday]
        local_opens = (dates + SESSION_OPEN).tz_localize(EXCHANGE_TIMEZONE)
        opens = local_opens.tz_convert("UTC").as_unit("ns").asi8.copy()
        session_seconds = SESSION_SECONDS
    day_numbers = dates.asi8 // NANOSECONDS_PER_DAY
    day_numbers.setflags(write=False)
    opens.setflags(write=False)
    return TradingDays(day_numbers, opens, session_seconds)
