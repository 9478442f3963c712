"""Reuse indicator values within a block of code, as a parameter sweep's chunk does.

Inside ``with reusing_indicator_values():`` every TA-Lib call with the same
function, parameters and input memory returns the outputs computed the first
time, as read-only arrays, instead of computing them again. A sweep over
``sma_cross`` then computes each distinct SMA once per chunk, whatever the
strategy's code looks like. The kept outputs are bounded in bytes: past the
budget the least recently used are dropped (and computed again if asked for),
so a chunk's memory does not grow with the number of distinct values. The
inputs of kept outputs stay alive, so their memory cannot be reused by other
arrays; the block must not change the data it reads. Outside the block
nothing is cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

from quantdesk.errors import InvalidInputError

_InputKey = tuple[int, tuple[int, ...], tuple[int, ...], str]
_CallKey = tuple[str, tuple[tuple[str, float], ...], tuple[_InputKey, ...]]
_Entry = tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]

REUSE_BUDGET_BYTES = 64 << 20
"""The default bound on kept outputs: eight float64 series of a million bars."""


@dataclass
class _Kept:
    budget_bytes: int
    entries: OrderedDict[_CallKey, _Entry] = field(default_factory=OrderedDict)
    kept_bytes: int = 0

    def get(self, key: _CallKey) -> _Entry | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: _CallKey, entry: _Entry) -> None:
        size = sum(values.nbytes for values in entry[1])
        if size > self.budget_bytes:
            return
        while self.entries and self.kept_bytes + size > self.budget_bytes:
            _, (_, dropped) = self.entries.popitem(last=False)
            self.kept_bytes -= sum(values.nbytes for values in dropped)
        self.entries[key] = entry
        self.kept_bytes += size


_reused: ContextVar[_Kept | None] = ContextVar("reused_indicator_values", default=None)


@contextmanager
def reusing_indicator_values(budget_bytes: int = REUSE_BUDGET_BYTES) -> Iterator[None]:
    """Compute each distinct indicator call once while the block runs.

    Parameters
    ----------
    budget_bytes
        The most output bytes kept at once; past it the least recently used
        outputs are dropped. The default is :data:`REUSE_BUDGET_BYTES`.

    Yields
    ------
    None
        Nothing; the outputs are shared inside the block and dropped after it.

    Raises
    ------
    InvalidInputError
        If ``budget_bytes`` is negative.
    """
    if budget_bytes < 0:
        raise InvalidInputError(
            f"budget_bytes must be 0 or more, not {budget_bytes}; 0 keeps nothing"
        )
    token = _reused.set(_Kept(budget_bytes))
    try:
        yield
    finally:
        _reused.reset(token)


def kept_bytes() -> int:
    """The output bytes kept now by the enclosing :func:`reusing_indicator_values` (0 outside).

    Returns
    -------
    int
        Bytes.
    """
    kept = _reused.get()
    return 0 if kept is None else kept.kept_bytes


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
        kept.put(key, (inputs, frozen))
    return frozen


def _memory_key(values: np.ndarray) -> _InputKey:
    address = int(values.__array_interface__["data"][0])
    return address, tuple(values.shape), tuple(values.strides), values.dtype.str


def _read_only(values: np.ndarray) -> np.ndarray:
    view = values.view()
    view.flags.writeable = False
    return view
