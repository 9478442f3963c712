"""Trading strategies: a typed base class, built-ins, and discovery of plug-ins.

A strategy turns an OHLCV frame into :class:`Signals`, entries and exits
decided on each bar's close, which the engine fills at the next bar's open.
Write one by subclassing :class:`Strategy` (vectorised: implement
``_signals``) or :class:`PerBarStrategy` (a numba step run bar by bar, for
path-dependent logic), with parameters declared as :class:`Parameter`
class attributes::

    class Momentum(Strategy):
        name = "momentum"
        period = Parameter(20, minimum=1, description="bars to look back")

        def _signals(self, frame):
            change = frame["close"].diff(self.period)
            return Signals.from_target_position((change > 0).astype(float))

Setting ``name`` registers the class, so ``get_strategy("momentum",
period=50)`` finds it; installed packages add strategies through the
entry-point group ``quantdesk.strategies``, and ``"module:Class"`` paths are
imported on demand (see :mod:`quantdesk.strategies.registry`).

Built in: ``sma_cross``, ``rsi_reversion``, ``bollinger_breakout``,
``breakout_scalping`` and ``ml_predictive`` (out-of-sample model probabilities).

>>> from quantdesk.strategies import get_strategy
>>> strategy = get_strategy("sma_cross", fast=10, slow=30)   # doctest: +SKIP
>>> signals = strategy.signals(frame)                         # doctest: +SKIP
"""

from __future__ import annotations

from quantdesk.strategies.base import Strategy
from quantdesk.strategies.crossings import crossed_above, crossed_below
from quantdesk.strategies.parameters import Parameter, ParameterValue, parse_assignments
from quantdesk.strategies.per_bar import (
    LONG_ENTRY,
    LONG_EXIT,
    NO_SIGNAL,
    SHORT_ENTRY,
    SHORT_EXIT,
    PerBarStrategy,
    signals_from_flags,
)
from quantdesk.strategies.registry import (
    ENTRY_POINT_GROUP,
    available_strategies,
    get_strategy,
    register_strategy,
    strategy_class,
)
from quantdesk.strategies.signals import Signals

__all__ = [
    "ENTRY_POINT_GROUP",
    "LONG_ENTRY",
    "LONG_EXIT",
    "NO_SIGNAL",
    "SHORT_ENTRY",
    "SHORT_EXIT",
    "Parameter",
    "ParameterValue",
    "PerBarStrategy",
    "Signals",
    "Strategy",
    "available_strategies",
    "crossed_above",
    "crossed_below",
    "get_strategy",
    "parse_assignments",
    "register_strategy",
    "signals_from_flags",
    "strategy_class",
]
