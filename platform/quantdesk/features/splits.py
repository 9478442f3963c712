"""Walk-forward splits with a purge and an embargo: training never sees the test's future.

Rows are bars in time order. The last ``folds`` blocks of equal size are the
test blocks; before each one lies its in-sample window (everything earlier when
anchored, else a window as long as the first fold's), whose last part is the
validation block that early stopping watches. Between training and validation
``horizon`` rows are purged, and between validation and test ``embargo`` rows
(at least ``horizon``) are left out, so no label used to fit or stop a model
reaches into the rows it is then judged on::

    | train ... | purge | validation | embargo | test |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quantdesk.errors import InvalidInputError

MINIMUM_TRAIN = 200
MINIMUM_VALIDATION = 50
MINIMUM_TEST = 50
VALIDATION_FRACTION = 0.2


@dataclass(frozen=True)
class Split:
    """One fold's row positions, each block in time order.

    Attributes
    ----------
    fold
        Its number, from 0.
    train, validation, test
        Row positions (int64 arrays).
    """

    fold: int
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def walk_forward_splits(
    rows: int,
    folds: int,
    horizon: int,
    *,
    embargo: int | None = None,
    anchored: bool = True,
    validation_fraction: float = VALIDATION_FRACTION,
) -> list[Split]:
    """Cut ``rows`` bars into ``folds`` walk-forward folds.

    Parameters
    ----------
    rows
        Bars in the data.
    folds
        Test blocks, at least 1.
    horizon
        The label horizon in bars: the purge between training and validation.
    embargo
        Bars left out between validation and test; ``horizon`` when None, never less.
    anchored
        Train on everything before the fold (True) or on a rolling window as
        long as the first fold's.
    validation_fraction
        The share of each in-sample window kept for early stopping.

    Returns
    -------
    list of Split
        One per fold, earliest first.

    Raises
    ------
    InvalidInputError
        For impossible arguments, or data too short for them; the message says
        how many bars are needed.
    """
    gap = _checked(folds, horizon, embargo, validation_fraction)
    layout = _layout(rows, folds, horizon, gap, anchored, validation_fraction)
    if layout is None:
        needed = minimum_rows(
            folds, horizon, embargo=gap, anchored=anchored, validation_fraction=validation_fraction
        )
        raise InvalidInputError(
            f"{folds} walk-forward folds with a {horizon}-bar horizon need at least "
            f"{needed:,} bars, the data has {rows:,}; load a longer range, or use fewer "
            "folds or a shorter horizon"
        )
    return layout


def minimum_rows(
    folds: int,
    horizon: int,
    *,
    embargo: int | None = None,
    anchored: bool = True,
    validation_fraction: float = VALIDATION_FRACTION,
) -> int:
    """The fewest bars :func:`walk_forward_splits` accepts for these arguments.

    Returns
    -------
    int
        Bars.
    """
    gap = _checked(folds, horizon, embargo, validation_fraction)
    low, high = 1, (folds + 1) * (MINIMUM_TRAIN + MINIMUM_VALIDATION + MINIMUM_TEST + 2 * gap)
    while _layout(high, folds, horizon, gap, anchored, validation_fraction) is None:
        high *= 2
    while low < high:
        middle = (low + high) // 2
        if _layout(middle, folds, horizon, gap, anchored, validation_fraction) is None:
            low = middle + 1
        else:
            high = middle
    return low


def _checked(folds: int, horizon: int, embargo: int | None, validation_fraction: float) -> int:
    if folds < 1:
        raise InvalidInputError(f"folds must be 1 or more, not {folds}")
    if horizon < 1:
        raise InvalidInputError(f"horizon must be 1 bar or more, not {horizon}")
    gap = horizon if embargo is None else embargo
    if gap < horizon:
        raise InvalidInputError(
            f"an embargo of {gap} bars is shorter than the {horizon}-bar label horizon; "
            f"use at least {horizon} so validation labels do not reach the test"
        )
    if not 0.0 < validation_fraction < 1.0:
        raise InvalidInputError(
            f"validation_fraction must be between 0 and 1, not {validation_fraction}"
        )
    return gap


def _layout(
    rows: int, folds: int, horizon: int, gap: int, anchored: bool, validation_fraction: float
) -> list[Split] | None:
    test_size = rows // (folds + 1)
    if test_size < MINIMUM_TEST:
        return None
    first_test = rows - folds * test_size
    window = first_test - gap
    splits = []
    for fold in range(folds):
        test_start = first_test + fold * test_size
        in_sample_end = test_start - gap
        in_sample_start = 0 if anchored else in_sample_end - window
        length = in_sample_end - in_sample_start
        validation_size = max(MINIMUM_VALIDATION, round(validation_fraction * length))
        validation_start = in_sample_end - validation_size
        train_end = validation_start - horizon
        if train_end - in_sample_start < MINIMUM_TRAIN:
            return None
        splits.append(
            Split(
                fold=fold,
                train=np.arange(in_sample_start, train_end, dtype=np.int64),
                validation=np.arange(
                    in_sample_end - validation_size, in_sample_end, dtype=np.int64
                ),
                test=np.arange(test_start, test_start + test_size, dtype=np.int64),
            )
        )
    return splits
