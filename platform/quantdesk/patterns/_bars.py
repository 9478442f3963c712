"""Read the price columns a detector needs, and build points on its bars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError
from quantdesk.indicators.inputs import column_array, require_frame
from quantdesk.patterns.records import PricePoint


@dataclass(frozen=True)
class Bars:
    """The time index and float64 price arrays of one frame."""

    index: pd.DatetimeIndex
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def point(self, position: int, column: str) -> PricePoint:
        """Return the price of ``column`` at bar ``position`` as a point."""
        return PricePoint(
            index=int(position),
            time=self.index[position],
            price=float(self.columns[column][position]),
        )

    def confirmation_point(self, position: int | None) -> PricePoint | None:
        """Return the close at bar ``position`` as a point, or ``None`` without a position."""
        return None if position is None else self.point(position, "close")


def read_bars(frame: object, columns: Sequence[str], *, what: str) -> Bars:
    """Check a frame for a detector and read its columns.

    Parameters
    ----------
    frame
        What the caller passed; a frame with a ``DatetimeIndex`` and ``columns``.
    columns
        The columns the detector reads.
    what
        The detector's name, for the message.

    Returns
    -------
    Bars
        The index and one float64 array per column.

    Raises
    ------
    InvalidInputError
        When ``frame`` is not a frame, has no ``DatetimeIndex`` or a column is not numeric.
    UnknownNameError
        When a column is missing.
    """
    checked = require_frame(frame, columns, what=what)
    if not isinstance(checked.index, pd.DatetimeIndex):
        raise InvalidInputError(
            f"{what} needs a frame indexed by time; pass it through "
            "quantdesk.core.frame.validate_ohlcv first"
        )
    return Bars(checked.index, {column: column_array(checked, column) for column in columns})
