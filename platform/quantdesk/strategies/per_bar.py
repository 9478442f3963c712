"""Per-bar strategies for path-dependent logic, run bar by bar in a compiled loop.

A vectorised strategy decides every bar at once. Logic that depends on what
happened so far (bars since entry, a level fixed at entry, a counter) is
easier bar by bar; :class:`PerBarStrategy` runs such logic as a numba
function called once per bar inside a compiled loop, so it stays fast.

A subclass provides:

``bar_inputs(frame)``
    The arrays the step reads, e.g. the close and two moving averages,
    computed vectorised; they become the rows of a 2-d float64 array
    ``inputs`` (``inputs[0, bar]`` is the first input at ``bar``).
``bar_step``
    A class attribute holding a ``@numba.njit(cache=True)`` function
    ``step(bar, inputs, parameters, state, side) -> int`` deciding bar
    ``bar`` on its close. It may read ``inputs[:, :bar + 1]`` only (reading
    later bars looks ahead) and returns a sum of the flags
    :data:`LONG_ENTRY`, :data:`LONG_EXIT`, :data:`SHORT_ENTRY`,
    :data:`SHORT_EXIT`, or :data:`NO_SIGNAL`.
``parameters``
    A float64 array, by default the strategy's parameter values in
    declaration order (bools as 0 and 1); override :meth:`bar_parameters`
    to pass others.
``state``
    A float64 array of :attr:`state_size` values (zeros, or
    :meth:`initial_state`) that the step may read and change; it carries
    over from bar to bar.
``side``
    The side the signals so far would hold under the rules of
    :mod:`quantdesk.strategies.signals`: ``1`` long, ``-1`` short, ``0``
    flat. It does not know about exits the engine makes on its own (stops,
    targets, time exits), nor about orders it could not fill.

For example, a per-bar twin of ``sma_cross`` without the short side::

    @numba.njit(cache=True)
    def cross_step(bar, inputs, parameters, state, side):
        if bar == 0:
            return NO_SIGNAL
        fast, slow = inputs[0], inputs[1]
        if fast[bar - 1] < slow[bar - 1] and fast[bar] > slow[bar]:
            return LONG_ENTRY
        if fast[bar - 1] > slow[bar - 1] and fast[bar] < slow[bar]:
            return LONG_EXIT
        return NO_SIGNAL

    class CrossPerBar(PerBarStrategy):
        name = "cross_per_bar"
        fast = Parameter(10, minimum=1)
        slow = Parameter(20, minimum=2)
        bar_step = cross_step

        def bar_inputs(self, frame):
            return sma(frame, self.fast), sma(frame, self.slow)

To add stop or target distances, override ``_signals``, call
``super()._signals(frame)`` and return ``dataclasses.replace(signals, ...)``.
"""

from __future__ import annotations

import inspect
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError
from quantdesk.strategies.base import Strategy, class_path, unimplemented_methods
from quantdesk.strategies.signals import Signals

NO_SIGNAL = 0
"""A step's return value for a bar with nothing to do."""
LONG_ENTRY = 1
"""Flag: open a long position (or reverse a short one)."""
LONG_EXIT = 2
"""Flag: close a long position."""
SHORT_ENTRY = 4
"""Flag: open a short position (or reverse a long one)."""
SHORT_EXIT = 8
"""Flag: close a short position."""

_ALL_FLAGS = LONG_ENTRY | LONG_EXIT | SHORT_ENTRY | SHORT_EXIT
_STEP_ARGUMENTS = 5


class PerBarStrategy(Strategy):
    """A strategy whose decisions come from a compiled per-bar step; see the module docs."""

    bar_step: ClassVar[Any]
    state_size: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.__dict__.get("name") and not unimplemented_methods(cls):
            _bar_step_of(cls)
        super().__init_subclass__(**kwargs)

    @abstractmethod
    def bar_inputs(self, frame: pd.DataFrame) -> Sequence[np.ndarray | pd.Series]:
        """Compute the arrays the step reads, one value per bar each.

        Parameters
        ----------
        frame
            The frame :meth:`check_frame` accepted.

        Returns
        -------
        sequence of arrays or series
            They become the rows of ``inputs``, in this order.
        """

    def bar_parameters(self) -> np.ndarray:
        """The ``parameters`` array the step receives: parameter values in declaration order."""
        return np.array([float(value) for value in self.parameters.values()], dtype=np.float64)

    def initial_state(self) -> np.ndarray:
        """The ``state`` array before the first bar: :attr:`state_size` zeros."""
        return np.zeros(self.state_size, dtype=np.float64)

    def bar_flags(self, frame: pd.DataFrame) -> np.ndarray:
        """Run the step over every bar and return its flags.

        Parameters
        ----------
        frame
            A frame :meth:`check_frame` accepts.

        Returns
        -------
        numpy.ndarray
            int64, one sum of flags per bar.

        Raises
        ------
        InvalidInputError
            When the inputs do not fit the frame, the step cannot be compiled
            for its signature, or it returns an unknown flag.
        """
        from numba.core.errors import NumbaError

        from quantdesk.strategies._bar_loop import run_bar_steps

        self.check_frame(frame)
        step = _bar_step_of(type(self))
        inputs = _stack_inputs(self.bar_inputs(frame), len(frame), self.label)
        parameters = np.ascontiguousarray(self.bar_parameters(), dtype=np.float64).reshape(-1)
        state = np.array(self.initial_state(), dtype=np.float64).reshape(-1)
        try:
            flags: np.ndarray = run_bar_steps(step, inputs, parameters, state)
        except (NumbaError, TypeError) as error:
            raise InvalidInputError(
                f"{class_path(type(self))}.bar_step cannot be compiled as "
                f"step(bar, inputs, parameters, state, side) -> int: {_reason(error)}"
            ) from error
        unknown = (flags & ~_ALL_FLAGS) != 0
        if unknown.any():
            bar = int(np.flatnonzero(unknown)[0])
            raise InvalidInputError(
                f"{class_path(type(self))}.bar_step returned {int(flags[bar])} at bar {bar}; "
                "return a sum of LONG_ENTRY, LONG_EXIT, SHORT_ENTRY and SHORT_EXIT"
            )
        return flags

    def _signals(self, frame: pd.DataFrame) -> Signals:
        return signals_from_flags(self.bar_flags(frame))


def signals_from_flags(flags: np.ndarray) -> Signals:
    """Turn per-bar sums of flags into :class:`Signals`.

    Parameters
    ----------
    flags
        Integers, one per bar, each a sum of :data:`LONG_ENTRY`,
        :data:`LONG_EXIT`, :data:`SHORT_ENTRY` and :data:`SHORT_EXIT`.

    Returns
    -------
    Signals
        The signals.
    """
    values = np.asarray(flags, dtype=np.int64)
    return Signals(
        (values & LONG_ENTRY) != 0,
        (values & LONG_EXIT) != 0,
        (values & SHORT_ENTRY) != 0,
        (values & SHORT_EXIT) != 0,
    )


def _bar_step_of(strategy_class: type[PerBarStrategy]) -> Any:
    step = inspect.getattr_static(strategy_class, "bar_step", None)
    if isinstance(step, staticmethod):
        step = step.__func__
    python_function = getattr(step, "py_func", None)
    if step is None or not callable(python_function):
        raise InvalidInputError(
            f"{class_path(strategy_class)}.bar_step must be a numba function: "
            "decorate step(bar, inputs, parameters, state, side) with @numba.njit(cache=True)"
        )
    arguments = len(inspect.signature(python_function).parameters)
    if arguments != _STEP_ARGUMENTS:
        raise InvalidInputError(
            f"{class_path(strategy_class)}.bar_step takes {arguments} arguments; write it as "
            "step(bar, inputs, parameters, state, side)"
        )
    return step


def _reason(error: Exception) -> str:
    """The first line of a numba error that says what went wrong, not which pass failed."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith("Failed in")]
    return (telling or lines or [type(error).__name__])[0]


def _stack_inputs(arrays: Sequence[np.ndarray | pd.Series], bars: int, label: str) -> np.ndarray:
    rows = []
    for position, values in enumerate(arrays):
        row = np.asarray(values, dtype=np.float64)
        if row.shape != (bars,):
            raise InvalidInputError(
                f"{label}: bar input {position} has shape {row.shape}; give one value per bar "
                f"({bars})"
            )
        rows.append(row)
    if not rows:
        return np.zeros((0, bars), dtype=np.float64)
    return np.ascontiguousarray(np.vstack(rows))
