"""What a sweep optimises, and the constraints a combination must meet to be chosen.

The objective is any key of :data:`~quantdesk.engine.STAT_KEYS`, maximised or
minimised. Ruined runs (equity at or below zero, ``total_return_pct`` of
-100) and undefined values (NaN) rank after every other run whichever the
direction, through :func:`~quantdesk.engine.ranking_value`.

A constraint is ``KEY OP NUMBER`` with OP one of ``>=``, ``<=``, ``>``,
``<``, ``==``, ``!=``: ``n_trades >= 10``, ``max_drawdown_pct > -30``. It is
read by a small grammar, never evaluated as code. An undefined value meets
no constraint. ``max_drawdown_duration`` is compared in days.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from quantdesk.engine import STAT_KEYS, ranking_value
from quantdesk.errors import InvalidInputError, UnknownNameError

Direction = Literal["maximise", "minimise"]

RUIN_RETURN_PCT = -100.0
"""The ``total_return_pct`` the statistics give a ruined run."""

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONSTRAINT_PATTERN = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
)
_SECONDS_PER_DAY = 86_400.0


def statistic_number(value: object) -> float:
    """A statistic as a float: durations in days, anything unreadable NaN.

    Parameters
    ----------
    value
        A value of a stats dict.

    Returns
    -------
    float
        The number.
    """
    if isinstance(value, pd.Timedelta):
        return math.nan if pd.isna(value) else value.total_seconds() / _SECONDS_PER_DAY
    if isinstance(value, int | float):
        return float(value)
    return math.nan


def checked_statistic(key: object) -> str:
    """Return ``key`` when it names a statistic.

    Raises
    ------
    UnknownNameError
        For any other text; the message lists close matches.
    """
    if not isinstance(key, str) or key not in STAT_KEYS:
        raise UnknownNameError("statistic", str(key), STAT_KEYS)
    return key


@dataclass(frozen=True)
class Objective:
    """The statistic a sweep ranks by, and whether higher or lower is better.

    Attributes
    ----------
    key
        A key of :data:`~quantdesk.engine.STAT_KEYS`; ``sharpe`` by default.
    direction
        ``"maximise"`` (the default) or ``"minimise"``.
    """

    key: str = "sharpe"
    direction: Direction = "maximise"

    def __post_init__(self) -> None:
        checked_statistic(self.key)
        if self.direction not in ("maximise", "minimise"):
            raise InvalidInputError(
                f"an objective's direction is 'maximise' or 'minimise', got {self.direction!r}"
            )

    def score(self, stats: Mapping[str, object]) -> float:
        """How good a run is, higher better; ruined and undefined runs score lowest.

        Parameters
        ----------
        stats
            One run's statistics.

        Returns
        -------
        float
            ``-inf`` for a ruined run, the lowest finite float for NaN, else
            the statistic (negated when minimising).
        """
        if statistic_number(stats.get("total_return_pct")) <= RUIN_RETURN_PCT:
            return -math.inf
        value = statistic_number(stats.get(self.key))
        return ranking_value(value if self.direction == "maximise" else -value)

    def to_dict(self) -> dict[str, str]:
        """The objective as JSON-ready data."""
        return {"key": self.key, "direction": self.direction}


@dataclass(frozen=True)
class Constraint:
    """A bound a combination's statistic must meet: ``n_trades >= 10``.

    Attributes
    ----------
    key
        A key of :data:`~quantdesk.engine.STAT_KEYS`.
    comparison
        One of ``>=``, ``<=``, ``>``, ``<``, ``==``, ``!=``.
    threshold
        The number compared with.
    """

    key: str
    comparison: str
    threshold: float

    def __post_init__(self) -> None:
        checked_statistic(self.key)
        if self.comparison not in _OPERATORS:
            raise InvalidInputError(
                f"a constraint compares with one of {', '.join(_OPERATORS)}, "
                f"got {self.comparison!r}"
            )
        if not math.isfinite(self.threshold):
            raise InvalidInputError(
                f"a constraint's threshold must be finite, got {self.threshold}"
            )

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Read ``KEY OP NUMBER``, e.g. ``"max_drawdown_pct > -30"``.

        Raises
        ------
        InvalidInputError
            When the text does not follow the grammar or names no statistic.
        """
        found = _CONSTRAINT_PATTERN.fullmatch(str(text))
        if found is None:
            raise InvalidInputError(
                f"cannot read constraint {text!r}; write KEY OP NUMBER, e.g. 'n_trades >= 10'"
            )
        key, comparison, number = found.groups()
        return cls(key=key, comparison=comparison, threshold=float(number))

    def is_met(self, stats: Mapping[str, object]) -> bool:
        """Whether one run's statistics meet the constraint; NaN never does."""
        value = statistic_number(stats.get(self.key))
        return not math.isnan(value) and _OPERATORS[self.comparison](value, self.threshold)

    def __str__(self) -> str:
        threshold = self.threshold
        written = str(int(threshold)) if threshold.is_integer() else repr(threshold)
        return f"{self.key} {self.comparison} {written}"


def as_objective(objective: Objective | str | None) -> Objective:
    """An :class:`Objective` from itself, a statistic's name (maximised) or None (``sharpe``)."""
    if objective is None:
        return Objective()
    if isinstance(objective, Objective):
        return objective
    if isinstance(objective, str):
        return Objective(key=objective)
    raise InvalidInputError(
        f"an objective is a statistic's name or an Objective, got {type(objective).__name__}"
    )


def as_constraints(constraints: Iterable[Constraint | str] | str | None) -> tuple[Constraint, ...]:
    """Constraints from texts, :class:`Constraint` objects, one text, or None (none)."""
    if constraints is None:
        return ()
    if isinstance(constraints, str | Constraint):
        constraints = [constraints]
    return tuple(
        item if isinstance(item, Constraint) else Constraint.parse(item) for item in constraints
    )
