"""Labels from forward returns: what a model learns to predict at each bar."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError, UnknownNameError

LABEL_KINDS = ("classification", "regression")
"""What a label is: ``classification`` 1 when the close rises, else 0; ``regression`` the return."""


def forward_return_labels(
    frame: pd.DataFrame, horizon: int = 1, kind: str = "classification"
) -> pd.Series:
    """The label of each bar: the close's change from that bar to ``horizon`` bars later.

    Parameters
    ----------
    frame
        A canonical OHLCV frame (its ``close`` is read).
    horizon
        Bars ahead, at least 1.
    kind
        ``"classification"`` (up 1, down or flat 0) or ``"regression"`` (the
        simple return).

    Returns
    -------
    pandas.Series
        float64 on the frame's index, NaN for the last ``horizon`` bars, whose
        future is not in the data; named ``up_<horizon>`` or ``return_<horizon>``.

    Raises
    ------
    InvalidInputError
        If ``horizon`` is below 1 or the frame has no ``close``.
    UnknownNameError
        If ``kind`` is not one of :data:`LABEL_KINDS`.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InvalidInputError(
            f"horizon must be a whole number of bars, 1 or more, not {horizon!r}"
        )
    if kind not in LABEL_KINDS:
        raise UnknownNameError("label kind", kind, LABEL_KINDS)
    if "close" not in frame.columns:
        raise InvalidInputError("the frame has no 'close' column; pass canonical OHLCV bars")
    close = frame["close"].to_numpy(dtype=np.float64)
    forward = np.full(len(close), np.nan)
    if len(close) > horizon:
        forward[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    if kind == "classification":
        known = ~np.isnan(forward)
        forward[known] = (forward[known] > 0.0).astype(np.float64)
        name = f"up_{horizon}"
    else:
        name = f"return_{horizon}"
    return pd.Series(forward, index=frame.index, name=name)
