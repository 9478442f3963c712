"""Typed strategy parameters with defaults and bounds, readable from code or from text.

A strategy declares each parameter as a class attribute::

    class SmaCross(Strategy):
        fast = Parameter(10, minimum=1, description="bars in the fast average")

The type comes from the default: ``int``, ``float`` or ``bool``. Values are
checked when a strategy is built; on the instance the attribute reads as the
plain value (``strategy.fast == 10``) and cannot be reassigned.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, overload

import numpy as np

from quantdesk.errors import InvalidInputError

ParameterValue = bool | int | float
"""What a parameter can hold."""

ParameterKind = Literal["int", "float", "bool"]

V = TypeVar("V", bool, int, float)

_TRUE_TEXTS = frozenset({"true", "yes", "on", "1"})
_FALSE_TEXTS = frozenset({"false", "no", "off", "0"})
_KIND_PHRASES: dict[ParameterKind, str] = {
    "int": "a whole number",
    "float": "a finite number",
    "bool": "true or false",
}

VALUES_ATTRIBUTE = "_parameter_values"
"""The instance attribute, a dict, that holds a strategy's resolved parameter values."""


@dataclass(frozen=True, eq=False)
class Parameter(Generic[V]):
    """One strategy parameter: its default, inclusive bounds and a short description.

    Parameters
    ----------
    default
        The value used when the caller gives none; its type (``int``,
        ``float`` or ``bool``) is the parameter's type.
    minimum, maximum
        Inclusive bounds, or None for none. Not allowed for ``bool``.
    description
        One line for listings such as ``quantdesk strategies``.
    """

    default: V
    minimum: V | None = field(default=None, kw_only=True)
    maximum: V | None = field(default=None, kw_only=True)
    description: str = field(default="", kw_only=True)
    name: str = field(default="", init=False)
    kind: ParameterKind = field(default="float", init=False)

    def __post_init__(self) -> None:
        kind = _kind_of(self.default)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "default", _plain(self.default, kind))
        if kind == "bool" and (self.minimum is not None or self.maximum is not None):
            raise InvalidInputError("a bool Parameter takes no minimum or maximum")
        for bound in ("minimum", "maximum"):
            value = getattr(self, bound)
            if value is None:
                continue
            if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
                raise InvalidInputError(f"Parameter {bound} must be a number, got {value!r}")
            object.__setattr__(self, bound, _plain(value, kind))
        if (
            self.minimum is not None
            and self.maximum is not None
            and not self.minimum <= self.maximum
        ):
            raise InvalidInputError(
                f"Parameter minimum ({self.minimum}) must not exceed maximum ({self.maximum})"
            )
        if self.bounds_phrase() and not self._within_bounds(self.default):
            raise InvalidInputError(
                f"Parameter default {self.default!r} must be {self.bounds_phrase()}"
            )

    def __set_name__(self, owner: type[Any], name: str) -> None:
        if self.name and self.name != name:
            raise InvalidInputError(
                f"one Parameter object cannot serve both {self.name!r} and {name!r}; "
                "create one per attribute"
            )
        object.__setattr__(self, "name", name)

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Parameter[V]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> V: ...

    def __get__(self, instance: object, owner: type[Any] | None = None) -> Parameter[V] | V:
        if instance is None:
            return self
        values: dict[str, Any] = getattr(instance, VALUES_ATTRIBUTE)
        value: V = values[self.name]
        return value

    def __set__(self, instance: object, value: object) -> None:
        raise AttributeError(
            f"parameter {self.name!r} is fixed once the strategy is built; "
            f"use with_parameters({self.name}=...) for a changed copy"
        )

    def check(self, value: object, *, strategy: str) -> V:
        """Return ``value`` as this parameter's type after checking type and bounds.

        Parameters
        ----------
        value
            What the caller passed. An ``int`` parameter takes whole numbers
            (``10.0`` is ``10``), a ``float`` one any finite number, a
            ``bool`` one ``True``/``False`` or ``1``/``0``. Text is refused;
            see :meth:`parse`.
        strategy
            The strategy's label, for the message.

        Returns
        -------
        int, float or bool
            The plain Python value.

        Raises
        ------
        InvalidInputError
            When the value has the wrong type or lies outside the bounds.
        """
        converted = self._convert(value)
        if converted is None:
            hint = "; pass text through from_text_parameters" if isinstance(value, str) else ""
            raise InvalidInputError(
                f"{strategy} parameter {self.name} must be {_KIND_PHRASES[self.kind]}, "
                f"got {type(value).__name__} {value!r}{hint}"
            )
        if not self._within_bounds(converted):
            raise InvalidInputError(
                f"{strategy} parameter {self.name} must be {self.bounds_phrase()}, "
                f"got {converted!r}"
            )
        return converted

    def parse(self, text: object, *, strategy: str) -> V:
        """Read a value from text, as given on a command line, then check it.

        Parameters
        ----------
        text
            ``"10"``, ``"0.5"``, or for a bool one of ``true``/``false``,
            ``yes``/``no``, ``on``/``off``, ``1``/``0`` (any case). A value
            that is not text is checked as it is.
        strategy
            The strategy's label, for the message.

        Returns
        -------
        int, float or bool
            The checked value.

        Raises
        ------
        InvalidInputError
            When the text does not read as the parameter's type or the value
            lies outside the bounds.
        """
        if not isinstance(text, str):
            return self.check(text, strategy=strategy)
        cleaned = text.strip().lower()
        parsed: ParameterValue | None = None
        if self.kind == "bool":
            if cleaned in _TRUE_TEXTS:
                parsed = True
            elif cleaned in _FALSE_TEXTS:
                parsed = False
        else:
            parsed = _read_number(cleaned)
        if parsed is None:
            raise InvalidInputError(
                f"{strategy} parameter {self.name} must be {_KIND_PHRASES[self.kind]}, "
                f"got text {text!r}"
            )
        return self.check(parsed, strategy=strategy)

    def bounds_phrase(self) -> str:
        """Describe the bounds, for example ``"between 1 and 100"``; empty without bounds."""
        if self.minimum is not None and self.maximum is not None:
            return f"between {self.minimum} and {self.maximum}"
        if self.minimum is not None:
            return f">= {self.minimum}"
        if self.maximum is not None:
            return f"<= {self.maximum}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        """Describe this parameter for listings and JSON output.

        Returns
        -------
        dict
            ``name``, ``type``, ``default``, ``minimum``, ``maximum`` and
            ``description``; missing bounds are None.
        """
        return {
            "name": self.name,
            "type": self.kind,
            "default": self.default,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "description": self.description,
        }

    def _within_bounds(self, value: ParameterValue) -> bool:
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)

    def _convert(self, value: object) -> V | None:
        result: ParameterValue | None = None
        if self.kind == "bool":
            if isinstance(value, bool | np.bool_):
                result = bool(value)
            elif isinstance(value, numbers.Integral) and int(value) in (0, 1):
                result = bool(int(value))
        elif isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            result = None
        elif self.kind == "int":
            if isinstance(value, numbers.Integral):
                result = int(value)
            elif math.isfinite(float(value)) and float(value).is_integer():
                result = int(float(value))
        elif math.isfinite(float(value)):
            result = float(value)
        return result  # type: ignore[return-value]  # the kind decides which of V it is


def parse_assignments(assignments: Iterable[str]) -> dict[str, str]:
    """Split ``NAME=VALUE`` texts, as given with ``-p`` on the command line.

    Parameters
    ----------
    assignments
        For example ``["fast=10", "slow=30"]``.

    Returns
    -------
    dict
        Name to value text, for :meth:`Strategy.from_text_parameters`.

    Raises
    ------
    InvalidInputError
        When an item has no ``=`` or no name, or a name is given twice.
    """
    texts: dict[str, str] = {}
    for assignment in assignments:
        name, separator, value = str(assignment).partition("=")
        name = name.strip()
        if not separator or not name:
            raise InvalidInputError(
                f"cannot read parameter {assignment!r}; write NAME=VALUE, e.g. fast=10"
            )
        if name in texts:
            raise InvalidInputError(f"parameter {name!r} is given twice; give it once")
        texts[name] = value.strip()
    return texts


def _read_number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _kind_of(default: object) -> ParameterKind:
    if isinstance(default, bool | np.bool_):
        return "bool"
    if isinstance(default, numbers.Integral):
        return "int"
    if isinstance(default, numbers.Real):
        if not math.isfinite(float(default)):
            raise InvalidInputError(f"a Parameter default must be finite, got {default!r}")
        return "float"
    raise InvalidInputError(
        f"a Parameter default must be an int, float or bool, got {type(default).__name__} "
        f"{default!r}"
    )


def _plain(value: Any, kind: ParameterKind) -> Any:
    if kind == "bool":
        return bool(value)
    if kind == "int":
        if not float(value).is_integer():
            raise InvalidInputError(f"an int Parameter takes whole-number bounds, got {value!r}")
        return int(value)
    return float(value)
