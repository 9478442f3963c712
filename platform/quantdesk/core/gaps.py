"""Finding the gaps in a series of bars."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantdesk.core.frame import epoch_nanoseconds, is_canonical
from quantdesk.core.timeframe import Timeframe
from quantdesk.errors import InvalidInputError

GAP_COLUMNS: tuple[str, ...] = ("gap_start", "gap_end", "missing_bars", "duration")


def gap_report(
    frame: pd.DataFrame,
    timeframe: Timeframe | str,
    *,
    minimum_missing_bars: int = 1,
) -> pd.DataFrame:
    """List the stretches where bars are missing between two present bars.

    A gap runs from the end of a present bar (``gap_start``) to the start of
    the next present bar (``gap_end``); ``missing_bars`` is how many whole
    bars fit between them, calendar months for ``1M``. Markets that close (stock
    nights and weekends) show their closures as gaps; raise
    ``minimum_missing_bars`` to see only the longer ones.

    Parameters
    ----------
    frame
        A canonical OHLCV frame.
    timeframe
        The frame's timeframe.
    minimum_missing_bars
        Report only gaps with at least this many missing bars.

    Returns
    -------
    pandas.DataFrame
        One row a gap with columns ``gap_start``, ``gap_end``, ``missing_bars``
        and ``duration``, in time order; empty when there is none.
    """
    step = Timeframe.parse(timeframe)
    if not is_canonical(frame):
        raise InvalidInputError(
            "gap_report needs a canonical OHLCV frame; pass it through validate_ohlcv first"
        )
    if minimum_missing_bars < 1:
        raise InvalidInputError(
            f"minimum_missing_bars must be at least 1, got {minimum_missing_bars}"
        )
    times = epoch_nanoseconds(frame)
    missing = step.bars_between(times[:-1], times[1:]) - 1
    positions = np.flatnonzero(missing >= minimum_missing_bars)
    gap_starts = pd.DatetimeIndex(step.shift_nanoseconds(times[positions]), tz="UTC").as_unit("ns")
    gap_ends = pd.DatetimeIndex(times[positions + 1], tz="UTC").as_unit("ns")
    return pd.DataFrame(
        {
            "gap_start": gap_starts,
            "gap_end": gap_ends,
            "missing_bars": missing[positions].astype(np.int64),
            "duration": gap_ends - gap_starts,
        },
        columns=list(GAP_COLUMNS),
    )
