"""The compiled loop behind PerBarStrategy; imported on first use, as it loads numba.

The loop takes the step as a first-class function of one fixed signature, so
numba compiles (and caches on disk) the loop once for every step, and each
step once for that signature.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
from numba import types

from quantdesk.strategies.per_bar import LONG_ENTRY, LONG_EXIT, SHORT_ENTRY, SHORT_EXIT

_INPUTS = types.float64[:, ::1]
_VECTOR = types.float64[::1]

BAR_STEP_TYPE = types.FunctionType(types.int64(types.int64, _INPUTS, _VECTOR, _VECTOR, types.int64))
"""step(bar, inputs, parameters, state, side) -> flags."""

BarStep = Callable[[int, np.ndarray, np.ndarray, np.ndarray, int], int]


@numba.njit(cache=True, nogil=True)
def side_after(side: int, flags: int) -> int:
    """Apply one bar's flags to the side held, by the rules of the Signals contract."""
    long_entry = (flags & LONG_ENTRY) != 0
    short_entry = (flags & SHORT_ENTRY) != 0
    if long_entry and short_entry:
        return side
    if long_entry:
        return 1
    if short_entry:
        return -1
    long_exit = side == 1 and (flags & LONG_EXIT) != 0
    short_exit = side == -1 and (flags & SHORT_EXIT) != 0
    return 0 if long_exit or short_exit else side


@numba.njit(types.int64[::1](BAR_STEP_TYPE, _INPUTS, _VECTOR, _VECTOR), cache=True, nogil=True)
def run_bar_steps(
    step: BarStep, inputs: np.ndarray, parameters: np.ndarray, state: np.ndarray
) -> np.ndarray:
    """Call ``step`` on every bar in order, tracking the side its flags imply.

    Parameters
    ----------
    step
        A numba function ``step(bar, inputs, parameters, state, side) -> int``.
    inputs
        C-contiguous float64, one row per input, one column per bar.
    parameters
        Float64 values the step reads.
    state
        Float64 values the step may change; they carry over between bars.

    Returns
    -------
    numpy.ndarray
        int64 flags, one per bar.
    """
    bars = inputs.shape[1]
    flags = np.zeros(bars, dtype=np.int64)
    side = 0
    for bar in range(bars):
        bar_flags = step(bar, inputs, parameters, state, side)
        flags[bar] = bar_flags
        side = side_after(side, bar_flags)
    return flags
