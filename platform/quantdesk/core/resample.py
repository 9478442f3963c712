"""Resampling canonical OHLCV frames to a coarser timeframe."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantdesk.core.frame import (
    INDEX_NAME,
    OHLCV_COLUMNS,
    empty_ohlcv,
    epoch_nanoseconds,
    is_canonical,
)
from quantdesk.core.timeframe import Timeframe
from quantdesk.errors import InvalidInputError


def resample_ohlcv(
    frame: pd.DataFrame,
    timeframe: Timeframe | str,
    *,
    source_timeframe: Timeframe | str | None = None,
) -> pd.DataFrame:
    """Aggregate bars into coarser bars aligned to the timeframe's grid.

    A coarse bar takes the first open, the highest high, the lowest low, the
    last close and the summed volume of the bars that start inside it. It is
    stamped with its own start; buckets with no bars are left out, never
    filled. Buckets start at the epoch, and weekly buckets on Monday 00:00 UTC.

    Parameters
    ----------
    frame
        A canonical OHLCV frame (see :func:`quantdesk.core.frame.validate_ohlcv`).
    timeframe
        The target timeframe, for example ``"4h"``.
    source_timeframe
        The frame's own timeframe. When given, the target must be a whole
        multiple of it, so that no source bar straddles two target bars.

    Returns
    -------
    pandas.DataFrame
        A canonical frame of the coarser bars.

    Raises
    ------
    InvalidInputError
        When the frame is not canonical or the target is finer than, or not a
        multiple of, the source timeframe.
    """
    target = Timeframe.parse(timeframe)
    if not is_canonical(frame):
        raise InvalidInputError(
            "resample_ohlcv needs a canonical OHLCV frame; pass it through validate_ohlcv first"
        )
    if source_timeframe is not None:
        source = Timeframe.parse(source_timeframe)
        if not target.is_multiple_of(source):
            raise InvalidInputError(
                f"cannot resample {source} bars to {target}: the target must be a whole "
                f"multiple of {source} on the same grid, e.g. {Timeframe(source.seconds * 4)}"
            )
    if frame.empty:
        return empty_ohlcv()
    starts = target.bucket_starts(epoch_nanoseconds(frame))
    opens, highs, lows, closes, volumes = (frame[column].to_numpy() for column in OHLCV_COLUMNS)
    first_rows = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    last_rows = np.r_[first_rows[1:] - 1, len(starts) - 1]
    index = pd.DatetimeIndex(starts[first_rows], tz="UTC", name=INDEX_NAME).as_unit("ns")
    return pd.DataFrame(
        {
            "open": opens[first_rows],
            "high": np.maximum.reduceat(highs, first_rows),
            "low": np.minimum.reduceat(lows, first_rows),
            "close": closes[last_rows],
            "volume": np.add.reduceat(volumes, first_rows),
        },
        index=index,
    )
