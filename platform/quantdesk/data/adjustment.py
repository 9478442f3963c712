"""Adjustment bases: how a source's prices account for splits and dividends.

A provider that adjusts prices restates its whole history at each corporate
action, so bars fetched before a split or dividend do not line up with bars
fetched after it. Each source declares the basis of the prices it returns
(:meth:`quantdesk.data.source.DataSource.adjustment`); the cache records it
with every series, and the loader checks a cached bar again whenever it
extends a series whose basis may be restated.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from quantdesk.core.frame import PRICE_COLUMNS
from quantdesk.errors import InvalidInputError

NONE: Final = "none"
"""Nothing to adjust, or the source never restates its history (crypto, synthetic data)."""
RAW: Final = "raw"
"""Prices as traded, never restated."""
SPLIT: Final = "split"
"""Adjusted for splits: restated at every split."""
DIVIDEND: Final = "dividend"
"""Adjusted for dividends: restated at every dividend."""
ALL: Final = "all"
"""Adjusted for splits and dividends: restated at every one of them."""
ADJUSTMENT_BASES: Final = (NONE, RAW, SPLIT, DIVIDEND, ALL)
NEVER_RESTATED: Final = frozenset({NONE, RAW})
PRICE_TOLERANCE: Final = 1e-9
"""The relative difference beyond which a bar fetched again counts as restated."""


def checked_basis(basis: object) -> str:
    """Return ``basis`` when it is one of :data:`ADJUSTMENT_BASES`.

    Parameters
    ----------
    basis
        The name to check.

    Returns
    -------
    str
        The same name.

    Raises
    ------
    InvalidInputError
        For any other value; the message lists the bases.
    """
    if not isinstance(basis, str) or basis not in ADJUSTMENT_BASES:
        raise InvalidInputError(
            f"unknown adjustment basis {basis!r}; use one of: {', '.join(ADJUSTMENT_BASES)}"
        )
    return basis


def may_be_restated(basis: str | None) -> bool:
    """Whether bars on ``basis`` can change after they were cached; an unknown basis can.

    Parameters
    ----------
    basis
        An adjustment basis, or None when it is not known.

    Returns
    -------
    bool
        False only for :data:`NONE` and :data:`RAW`.
    """
    return basis not in NEVER_RESTATED


def first_restated_bar(cached: pd.DataFrame, fetched: pd.DataFrame) -> pd.Timestamp | None:
    """The first cached bar that ``fetched`` lacks or prices differently, if any.

    Parameters
    ----------
    cached
        Canonical bars from the cache.
    fetched
        Canonical bars fetched again for a range that includes them.

    Returns
    -------
    pandas.Timestamp or None
        The start of the first cached bar whose open, high, low or close
        differ by more than :data:`PRICE_TOLERANCE` (relative), or that was
        not sent again; None when every cached bar agrees.
    """
    columns = list(PRICE_COLUMNS)
    again = fetched.reindex(cached.index)[columns].to_numpy()
    before = cached[columns].to_numpy()
    agrees = np.isclose(again, before, rtol=PRICE_TOLERANCE, atol=0.0).all(axis=1)
    if agrees.all():
        return None
    return pd.Timestamp(cached.index[int(np.flatnonzero(~agrees)[0])])
