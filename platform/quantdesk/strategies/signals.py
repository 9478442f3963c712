"""What a strategy asks of the engine: entries and exits, decided on each bar's close.

This is the contract between strategies and the engine. A strategy's
vectorised path returns :class:`Signals`; the engine turns them into orders
that fill at the next bar's open (or at the signal bar's close with
``trade_on_close=True``).

Rules the engine applies on each bar, in this order:

1. An exit of the side held closes the position.
2. An entry of the side not held opens a position on that side; when the
   opposite side is held and was not exited, it is closed first and the new
   position is sized on the equity left after closing (a reversal: two trades).
3. An entry of the side already held does nothing (no pyramiding). An entry
   and an exit of the same side on one bar: the entry wins and the position is kept.
4. A long and a short entry on the same bar is refused by :meth:`Signals.check`.

Exits the engine makes on its own, per position, come from the optional
per-bar arrays ``stop_distances``, ``target_distances`` and
``trailing_distances`` (price units), read on the bar whose signal opened
the position and measured from the entry fill price (where a distance is NaN
the strategy sets none, and a stop of that kind in ``BacktestConfig``
applies), and from
``maximum_bars_held`` (a time exit after that many bars). Stops are checked
intrabar against high and low and are gap-aware.

Alternatively a strategy may give ``target_position``: per bar ``1`` (long),
``-1`` (short), ``0`` (flat) or NaN (keep what is held); entries and exits are
derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError


@dataclass(frozen=True, eq=False)
class Signals:
    """Boolean arrays of one length, one value per bar, decided on that bar's close.

    Build with :meth:`from_series` or :meth:`from_target_position`; pass
    ``short_entries``/``short_exits`` as all-False for a long-only strategy.
    """

    long_entries: np.ndarray
    long_exits: np.ndarray
    short_entries: np.ndarray
    short_exits: np.ndarray
    stop_distances: np.ndarray | None = None
    target_distances: np.ndarray | None = None
    trailing_distances: np.ndarray | None = None
    maximum_bars_held: int | None = None

    def __post_init__(self) -> None:
        length = len(self.long_entries)
        for name in ("long_entries", "long_exits", "short_entries", "short_exits"):
            values = getattr(self, name)
            if not isinstance(values, np.ndarray) or values.dtype != np.bool_ or values.ndim != 1:
                raise InvalidInputError(f"Signals.{name} must be a 1-d numpy bool array")
            if len(values) != length:
                raise InvalidInputError(
                    f"Signals.{name} has {len(values)} values, long_entries has {length}; "
                    "give one value per bar"
                )
        for name in ("stop_distances", "target_distances", "trailing_distances"):
            values = getattr(self, name)
            if values is None:
                continue
            if not isinstance(values, np.ndarray) or values.dtype != np.float64 or values.ndim != 1:
                raise InvalidInputError(f"Signals.{name} must be a 1-d numpy float64 array or None")
            if (values <= 0).any():
                raise InvalidInputError(f"Signals.{name} must be positive price distances or NaN")
            if len(values) != length:
                raise InvalidInputError(
                    f"Signals.{name} has {len(values)} values, long_entries has {length}; "
                    "give one value per bar"
                )
        if self.maximum_bars_held is not None and (
            not isinstance(self.maximum_bars_held, int) or self.maximum_bars_held < 1
        ):
            raise InvalidInputError("Signals.maximum_bars_held must be a whole number >= 1 or None")

    def __len__(self) -> int:
        return len(self.long_entries)

    def check(self, index: pd.Index) -> None:
        """Refuse signals that do not fit the bars or contradict themselves.

        Parameters
        ----------
        index
            The bars' index; its length must match.

        Raises
        ------
        InvalidInputError
            On a length mismatch, or a long and a short entry on one bar.
        """
        if len(index) != len(self):
            raise InvalidInputError(
                f"signals cover {len(self)} bars but the data has {len(index)}; "
                "return one value per bar"
            )
        both = self.long_entries & self.short_entries
        if both.any():
            first = index[int(np.flatnonzero(both)[0])]
            raise InvalidInputError(
                f"a long and a short entry on the same bar at {first} ({int(both.sum())} bars); "
                "decide one side per bar"
            )

    @classmethod
    def from_series(
        cls,
        long_entries: pd.Series | np.ndarray,
        long_exits: pd.Series | np.ndarray | None = None,
        short_entries: pd.Series | np.ndarray | None = None,
        short_exits: pd.Series | np.ndarray | None = None,
    ) -> Signals:
        """Build signals from boolean series or arrays; missing ones are all False.

        NaN counts as False.

        Returns
        -------
        Signals
            The signals.
        """
        entries = _as_bool(long_entries)
        empty = np.zeros(len(entries), dtype=np.bool_)
        return cls(
            entries,
            empty.copy() if long_exits is None else _as_bool(long_exits),
            empty.copy() if short_entries is None else _as_bool(short_entries),
            empty.copy() if short_exits is None else _as_bool(short_exits),
        )

    @classmethod
    def from_target_position(cls, target: pd.Series | np.ndarray) -> Signals:
        """Derive entries and exits from a target side per bar.

        Parameters
        ----------
        target
            ``1`` long, ``-1`` short, ``0`` flat, NaN keep the current side.
            Other values are refused.

        Returns
        -------
        Signals
            Entries where the target side changes to long or short, exits
            where it leaves a side.
        """
        values = np.asarray(target, dtype=np.float64)
        known = ~np.isnan(values)
        if not np.isin(values[known], (-1.0, 0.0, 1.0)).all():
            raise InvalidInputError("target_position takes only 1, -1, 0 or NaN")
        side = pd.Series(values).ffill().fillna(0.0).to_numpy()
        previous = np.r_[0.0, side[:-1]]
        changed = side != previous
        return cls(
            changed & (side == 1.0),
            changed & (previous == 1.0) & (side != -1.0),
            changed & (side == -1.0),
            changed & (previous == -1.0) & (side != 1.0),
        )


def _as_bool(values: pd.Series | np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == np.bool_:
        return array.copy()
    if array.dtype == object or np.issubdtype(array.dtype, np.floating):
        return np.asarray(pd.Series(array).fillna(False).astype(bool))
    return array.astype(np.bool_)
