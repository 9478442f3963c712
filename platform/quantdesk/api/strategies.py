"""The strategies: list them, and build one from text as a command line gives it."""

from __future__ import annotations

from collections.abc import Iterable

from quantdesk.strategies import Strategy, available_strategies, parse_assignments, strategy_class

__all__ = ["Strategy", "available_strategies", "strategy_from_text"]


def strategy_from_text(
    strategy: str | type[Strategy] | Strategy, assignments: Iterable[str] = ()
) -> Strategy:
    """Build a strategy from its name and ``name=value`` parameter assignments.

    Parameters
    ----------
    strategy
        A registered name (``"sma_cross"``), a ``module:Class`` path, a
        ``Strategy`` class or an instance (whose class is used).
    assignments
        Parameter values as text, e.g. ``["fast=10", "slow=30"]``; the rest
        keep their defaults.

    Returns
    -------
    Strategy
        The strategy with its parameters parsed and checked.

    Raises
    ------
    InvalidInputError
        For an unknown strategy or parameter, or a value that does not parse.
    """
    return strategy_class(strategy).from_text_parameters(parse_assignments(assignments))
