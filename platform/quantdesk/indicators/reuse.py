"""Reuse indicator values within a block of code, as a parameter sweep's chunk does.

Inside ``with reusing_indicator_values():`` every TA-Lib call with the same
function, parameters and input memory returns the outputs computed the first
time, as read-only arrays, instead of computing them again. A sweep over
``sma_cross`` then computes each distinct SMA once per chunk, whatever the
strategy's code looks like. The inputs are kept alive while the block runs,
so their memory cannot be reused by other arrays; the block must not change
the data it reads. Outside the block nothing is cached.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

_InputKey = tuple[int, tuple[int, ...], tuple[int, ...], str]
_CallKey = tuple[str, tuple[tuple[str, float], ...], tuple[_InputKey, ...]]
_Entry = tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]

_reused: ContextVar[dict[_CallKey, _Entry] | None] = ContextVar(
    "reused_indicator_values", default=None
)


@contextmanager
def reusing_indicator_values() -> Iterator[None]:
    """Compute each distinct indicator call once while the block runs.

    Yields
    ------
    None
        Nothing; the outputs are shared inside the block and dropped after it.
    """
    token = _reused.set({})
    try:
        yield
    finally:
        _reused.reset(token)


def reused_outputs(
    function_name: str, inputs: tuple[np.ndarray, ...], parameters: Mapping[str, float]
) -> tuple[tuple[np.ndarray, ...] | None, _CallKey | None]:
    """The outputs kept for this call, and the key to keep new ones under.

    Returns
    -------
    tuple
        ``(outputs, key)``: outputs None when nothing is kept yet; key None
        outside :func:`reusing_indicator_values`.
    """
    kept = _reused.get()
    if kept is None:
        return None, None
    key = (
        function_name,
        tuple(sorted((name, float(value)) for name, value in parameters.items())),
        tuple(_memory_key(values) for values in inputs),
    )
    entry = kept.get(key)
    return (None if entry is None else entry[1]), key


def keep_outputs(
    key: _CallKey, inputs: tuple[np.ndarray, ...], outputs: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, ...]:
    """Keep a call's outputs under ``key`` and return them read-only.

    Returns
    -------
    tuple of numpy.ndarray
        Read-only views of ``outputs``.
    """
    frozen = tuple(_read_only(values) for values in outputs)
    kept = _reused.get()
    if kept is not None:
        kept[key] = (inputs, frozen)
    return frozen


def _memory_key(values: np.ndarray) -> _InputKey:
    address = int(values.__array_interface__["data"][0])
    return address, tuple(values.shape), tuple(values.strides), values.dtype.str


def _read_only(values: np.ndarray) -> np.ndarray:
    view = values.view()
    view.flags.writeable = False
    return view
