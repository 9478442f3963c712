"""Parameter spaces for sweeps: ranges, lists and fixed values over a strategy's parameters.

Each swept parameter is written ``NAME=VALUES``, as with ``-p`` on the
command line:

- ``fast=5:50:5`` is START:STOP:STEP with STOP included when the steps land
  on it (5, 10, ..., 50); a negative step counts down. Steps are exact
  decimal arithmetic, so ``0.1:0.3:0.1`` is 0.1, 0.2 and 0.3.
- ``fast=5,10,20`` is a list.
- ``fast=10`` is a fixed value.

Values are read as the parameter's type (int, float or bool) and checked
against its bounds. Parameters not named keep the strategy's defaults.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.strategies import Strategy, strategy_class
from quantdesk.strategies.parameters import Parameter, ParameterValue, parse_assignments

Combination = dict[str, ParameterValue]
"""One point of a space: parameter name to value."""


@dataclass(frozen=True)
class ParameterSpace:
    """The combinations of a sweep: one tuple of values per swept parameter.

    Build it with :func:`parse_parameter_space`. Combinations are produced in
    grid order, the last parameter varying fastest, and never all held at once.

    Attributes
    ----------
    strategy
        The strategy class the values were checked for.
    axes
        ``(name, values)`` per parameter, in the order given.
    """

    strategy: type[Strategy]
    axes: tuple[tuple[str, tuple[ParameterValue, ...]], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The swept parameters' names, in order."""
        return tuple(name for name, _ in self.axes)

    @property
    def size(self) -> int:
        """How many combinations the grid holds."""
        return math.prod(len(values) for _, values in self.axes)

    def grid(self) -> Iterator[Combination]:
        """Every combination, lazily, in grid order.

        Yields
        ------
        dict
            Parameter name to value.
        """
        names = self.names
        for values in itertools.product(*(values for _, values in self.axes)):
            yield dict(zip(names, values, strict=True))

    def combination(self, position: int) -> Combination:
        """The combination at a position of the grid order, without walking the grid.

        Parameters
        ----------
        position
            From 0 to ``size - 1``.

        Returns
        -------
        dict
            Parameter name to value.
        """
        if not 0 <= position < self.size:
            raise InvalidInputError(
                f"combination {position} is outside the grid of {self.size}; "
                f"pick 0 to {self.size - 1}"
            )
        chosen: Combination = {}
        remainder = position
        for name, values in reversed(self.axes):
            remainder, offset = divmod(remainder, len(values))
            chosen[name] = values[offset]
        return {name: chosen[name] for name in self.names}

    def random(self, count: int, seed: int | None = None) -> list[Combination]:
        """Sample combinations without replacement, in grid order.

        Parameters
        ----------
        count
            How many; the whole grid when it is not smaller than :attr:`size`.
        seed
            Makes the sample repeatable.

        Returns
        -------
        list of dict
            The sampled combinations.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidInputError(f"random takes a count of at least 1, got {count!r}")
        if count >= self.size:
            return list(self.grid())
        generator = np.random.default_rng(seed)
        positions = np.sort(generator.choice(self.size, size=count, replace=False))
        return [self.combination(int(position)) for position in positions]

    def to_dict(self) -> dict[str, Any]:
        """The space as JSON-ready data: the strategy's name and each parameter's values."""
        return {
            "strategy": self.strategy.display_name(),
            "parameters": {name: list(values) for name, values in self.axes},
            "size": self.size,
        }


def parse_parameter_space(
    strategy: str | type[Strategy] | Strategy,
    parameters: Iterable[str] | Mapping[str, object],
) -> ParameterSpace:
    """Read swept parameters for a strategy.

    Parameters
    ----------
    strategy
        A strategy name, ``module:Class`` path, class or instance.
    parameters
        ``NAME=VALUES`` texts (``["fast=5:50:5", "slow=20,40"]``), or a
        mapping of name to a text, a single value or a sequence of values
        (``{"fast": range(5, 51, 5), "short": [True, False]}``).

    Returns
    -------
    ParameterSpace
        The checked space.

    Raises
    ------
    InvalidInputError
        For an unknown parameter (the message lists close matches), a value
        of the wrong type or out of bounds, a zero step, a step of the wrong
        sign, an empty list or a value given twice.
    """
    chosen = strategy_class(strategy)
    given: Mapping[str, object] = (
        parameters if isinstance(parameters, Mapping) else parse_assignments(parameters)
    )
    definitions = chosen.parameter_definitions()
    label = chosen.display_name()
    axes: list[tuple[str, tuple[ParameterValue, ...]]] = []
    for name, written in given.items():
        if name not in definitions:
            raise UnknownNameError(f"{label} parameter", str(name), definitions)
        values = _axis_values(definitions[name], written, label)
        axes.append((name, values))
    return ParameterSpace(strategy=chosen, axes=tuple(axes))


def _axis_values(definition: Parameter[Any], written: object, label: str) -> tuple[Any, ...]:
    where = f"{label} parameter {definition.name}"
    if isinstance(written, str):
        text = written.strip()
        if ":" in text:
            items: Sequence[object] = _range_texts(text, where, definition.kind)
        else:
            items = [item.strip() for item in text.split(",")]
    elif isinstance(written, Iterable):
        items = list(written)
    else:
        items = [written]
    if not items or any(item == "" for item in items):
        raise InvalidInputError(
            f"{where} has an empty value in {written!r}; write e.g. {definition.name}=5,10,20"
        )
    values = tuple(definition.parse(item, strategy=label) for item in items)
    if len(set(values)) != len(values):
        raise InvalidInputError(f"{where} lists a value twice in {written!r}; give each once")
    return values


def _range_texts(text: str, where: str, kind: str) -> list[str]:
    parts = [part.strip() for part in text.split(":")]
    if len(parts) != 3 or not all(parts):
        raise InvalidInputError(
            f"cannot read {where} range {text!r}; write START:STOP:STEP, e.g. 5:50:5"
        )
    if kind == "bool":
        raise InvalidInputError(f"{where} is true or false; list the values, e.g. true,false")
    try:
        start, stop, step = (Decimal(part) for part in parts)
    except InvalidOperation:
        raise InvalidInputError(
            f"cannot read {where} range {text!r}; START, STOP and STEP must be numbers"
        ) from None
    if not all(number.is_finite() for number in (start, stop, step)):
        raise InvalidInputError(f"{where} range {text!r} must use finite numbers")
    if step == 0:
        raise InvalidInputError(f"{where} range {text!r} has step 0; use a step such as 1")
    if (stop - start) * step < 0:
        direction = "negative to count down" if stop < start else "positive to count up"
        raise InvalidInputError(
            f"{where} range {text!r} is empty: the step must be {direction} from {start} to {stop}"
        )
    count = int((stop - start) / step) + 1
    return [str(start + number * step) for number in range(count)]
