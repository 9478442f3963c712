"""Volume-based indicators: on-balance volume and the money flow index."""

from __future__ import annotations

import pandas as pd

from quantdesk.indicators._talib import as_series, call_talib
from quantdesk.indicators.inputs import frame_arrays, require_int


def obv(data: pd.DataFrame) -> pd.Series:
    """On-balance volume: volume summed with the sign of each close's change (TA-Lib ``OBV``).

    Parameters
    ----------
    data
        A frame with ``close`` and ``volume``.

    Returns
    -------
    pandas.Series
        Named ``obv``, on the input's index; it starts at the first bar's volume.
    """
    close, volume = frame_arrays(data, ("close", "volume"), what="obv")
    (result,) = call_talib("OBV", (close, volume), {}, what="obv")
    return as_series(result, data.index, "obv")


def mfi(data: pd.DataFrame, period: int = 14) -> pd.Series:
    """Money flow index, a volume-weighted RSI of the typical price, 0 to 100 (TA-Lib ``MFI``).

    Parameters
    ----------
    data
        A frame with ``high``, ``low``, ``close`` and ``volume``.
    period
        Bars in the sums of money flow, at least 2.

    Returns
    -------
    pandas.Series
        Named ``mfi_{period}``, on the input's index; the first ``period`` values are NaN.
    """
    period = require_int(period, "period", minimum=2)
    arrays = frame_arrays(data, ("high", "low", "close", "volume"), what="mfi")
    (result,) = call_talib("MFI", arrays, {"timeperiod": period}, what=f"mfi(period={period})")
    return as_series(result, data.index, f"mfi_{period}")
