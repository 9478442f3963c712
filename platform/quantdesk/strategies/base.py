"""The strategy base class: typed parameters, a data check, and signals for the engine.

A strategy subclasses :class:`Strategy`, declares its parameters as
:class:`~quantdesk.strategies.parameters.Parameter` class attributes, and
implements ``_signals(frame)``, returning :class:`Signals` decided on each
bar's close. The public :meth:`Strategy.signals` checks the frame (type,
columns, enough bars) before calling ``_signals`` and checks the result after.
For logic that depends on the path taken so far, subclass
:class:`~quantdesk.strategies.per_bar.PerBarStrategy` instead.

Setting ``name`` on a concrete subclass registers it on class creation, so
a class defined in a notebook is found by
:func:`~quantdesk.strategies.get_strategy` at once (see
:mod:`quantdesk.strategies.registry`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Self

import pandas as pd

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.strategies.parameters import (
    VALUES_ATTRIBUTE,
    Parameter,
    ParameterValue,
)
from quantdesk.strategies.signals import Signals


class Strategy(ABC):
    """A trading strategy with typed, validated parameters.

    Subclasses set :attr:`name` (lowercase, e.g. ``"sma_cross"``) and
    :attr:`description`, declare parameters as ``Parameter`` class
    attributes, list the frame :attr:`columns` they read, implement
    ``_signals``, and may override :meth:`validate` (rules across
    parameters) and :attr:`minimum_bars`.

    Build one with keyword arguments, ``SmaCross(fast=10, slow=30)``, or
    from text with :meth:`from_text_parameters`. Unknown names, wrong types
    and values outside the bounds are refused with one-line messages.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ("close",)
    _parameter_definitions: ClassVar[Mapping[str, Parameter[Any]]] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._parameter_definitions = MappingProxyType(_collect_parameters(cls))
        own_doc = cls.__dict__.get("__doc__")
        if "description" not in cls.__dict__ and own_doc:
            cls.description = own_doc.strip().splitlines()[0].strip()
        if cls.__dict__.get("name") and not unimplemented_methods(cls):
            from quantdesk.strategies.registry import register_strategy

            register_strategy(cls)

    def __init__(self, **parameters: object) -> None:
        definitions = type(self).parameter_definitions()
        label = type(self).display_name()
        _refuse_unknown(label, parameters, definitions)
        values: dict[str, ParameterValue] = {}
        for name, definition in definitions.items():
            if name in parameters:
                values[name] = definition.check(parameters[name], strategy=label)
            else:
                values[name] = definition.default
        setattr(self, VALUES_ATTRIBUTE, values)
        self.validate()

    @classmethod
    def from_text_parameters(cls, texts: Mapping[str, object]) -> Self:
        """Build the strategy from parameter values given as text, as on a command line.

        Parameters
        ----------
        texts
            Name to text, e.g. ``{"fast": "10", "short": "yes"}`` (see
            :func:`~quantdesk.strategies.parameters.parse_assignments` for
            ``NAME=VALUE`` items). Values that are not text are checked as they are.

        Returns
        -------
        Strategy
            The strategy.

        Raises
        ------
        InvalidInputError
            For an unknown name (the message names close matches), text that
            does not read as the parameter's type, or a value out of bounds.
        """
        definitions = cls.parameter_definitions()
        label = cls.display_name()
        _refuse_unknown(label, texts, definitions)
        return cls(
            **{name: definitions[name].parse(text, strategy=label) for name, text in texts.items()}
        )

    @classmethod
    def display_name(cls) -> str:
        """The strategy's ``name``, or its class name when it has none."""
        return cls.name or cls.__name__

    @classmethod
    def parameter_definitions(cls) -> Mapping[str, Parameter[Any]]:
        """Every declared parameter by name, in declaration order (base classes first)."""
        return cls._parameter_definitions

    @classmethod
    def parameter_specs(cls) -> list[dict[str, Any]]:
        """Describe the parameters for listings and JSON output.

        Returns
        -------
        list of dict
            Per parameter: ``name``, ``type``, ``default``, ``minimum``,
            ``maximum`` and ``description``.
        """
        return [definition.to_dict() for definition in cls.parameter_definitions().values()]

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Describe the strategy class for listings such as ``quantdesk strategies --json``.

        Returns
        -------
        dict
            ``name``, ``description``, ``class`` (``module:Class``),
            ``columns`` and ``parameters`` (see :meth:`parameter_specs`).
        """
        return {
            "name": cls.display_name(),
            "description": cls.description,
            "class": class_path(cls),
            "columns": list(cls.columns),
            "parameters": cls.parameter_specs(),
        }

    @property
    def parameters(self) -> dict[str, ParameterValue]:
        """The resolved parameter values, defaults included, in declaration order."""
        values: dict[str, ParameterValue] = getattr(self, VALUES_ATTRIBUTE)
        return dict(values)

    @property
    def minimum_bars(self) -> int:
        """The fewest bars this strategy needs; shorter data is refused by :meth:`signals`."""
        return 1

    @property
    def label(self) -> str:
        """The name with the parameters that differ from their defaults: ``sma_cross(slow=200)``."""
        definitions = type(self).parameter_definitions()
        changed = [
            f"{name}={value!r}"
            for name, value in self.parameters.items()
            if value != definitions[name].default
        ]
        name = type(self).display_name()
        return f"{name}({', '.join(changed)})" if changed else name

    def validate(self) -> None:  # noqa: B027  # an optional hook, empty by design
        """Check rules that span parameters; override and raise ``InvalidInputError``.

        Runs at the end of construction, when every parameter has its checked value.
        """

    def with_parameters(self, **changes: object) -> Self:
        """Return a copy with some parameters changed, checked like a new strategy.

        Parameters
        ----------
        **changes
            New values by parameter name.

        Returns
        -------
        Strategy
            A new strategy of the same class.
        """
        return type(self)(**{**self.parameters, **changes})

    def signals(self, frame: pd.DataFrame) -> Signals:
        """Decide entries and exits on each bar's close.

        Parameters
        ----------
        frame
            A canonical OHLCV frame holding at least :attr:`columns` and
            :attr:`minimum_bars` bars.

        Returns
        -------
        Signals
            One value per bar of ``frame``. The value at bar ``i`` must read
            no bar after ``i``; the built-ins are tested for it.

        Raises
        ------
        InvalidInputError
            When ``frame`` is not a frame, lacks a column the strategy reads,
            is too short, or the strategy's signals do not fit it.
        """
        self.check_frame(frame)
        result = self._signals(frame)
        if not isinstance(result, Signals):
            raise InvalidInputError(
                f"{class_path(type(self))}._signals returned {type(result).__name__}; "
                "return a Signals"
            )
        result.check(frame.index)
        return result

    def check_frame(self, frame: object) -> None:
        """Refuse data this strategy cannot read: not a frame, a missing column, too few bars.

        Raises
        ------
        InvalidInputError
            With one line naming the problem.
        """
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(
                f"{self.label} needs an OHLCV DataFrame, got {type(frame).__name__}"
            )
        present = [str(column) for column in frame.columns]
        for column in self.columns:
            if column not in frame.columns:
                raise UnknownNameError("column", column, present)
        needed = self.minimum_bars
        if len(frame) < needed:
            raise InvalidInputError(
                f"{self.label} needs at least {needed} bars, the data has {len(frame)}"
            )

    @abstractmethod
    def _signals(self, frame: pd.DataFrame) -> Signals:
        """Compute the signals for a frame that :meth:`check_frame` accepted."""

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.parameters.items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Strategy) or type(other) is not type(self):
            return NotImplemented
        return self.parameters == other.parameters

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.parameters.items())))


def class_path(strategy_class: type[Any]) -> str:
    """Return ``module:QualifiedName`` for a class, the form ``get_strategy`` imports."""
    return f"{strategy_class.__module__}:{strategy_class.__qualname__}"


def unimplemented_methods(strategy_class: type[Any]) -> list[str]:
    """Name the abstract methods a class leaves unimplemented.

    Unlike ``inspect.isabstract`` this also works inside ``__init_subclass__``,
    before ``ABCMeta`` has recorded the class's abstract methods.

    Returns
    -------
    list of str
        Sorted method names; empty for a concrete class.
    """
    missing = {
        name
        for name, value in vars(strategy_class).items()
        if getattr(value, "__isabstractmethod__", False)
    }
    for base in strategy_class.__bases__:
        for name in getattr(base, "__abstractmethods__", ()):
            if getattr(getattr(strategy_class, name, None), "__isabstractmethod__", False):
                missing.add(name)
    return sorted(missing)


def _collect_parameters(strategy_class: type[Strategy]) -> dict[str, Parameter[Any]]:
    reserved = set(dir(Strategy))
    found: dict[str, Parameter[Any]] = {}
    for klass in reversed(strategy_class.__mro__):
        for attribute, value in vars(klass).items():
            if isinstance(value, Parameter):
                if attribute.startswith("_") or attribute in reserved:
                    raise InvalidInputError(
                        f"{strategy_class.__qualname__} cannot name a parameter {attribute!r}; "
                        "that name is taken by Strategy itself or is private"
                    )
                found[attribute] = value
            elif attribute in found:
                del found[attribute]
    return found


def _refuse_unknown(
    label: str, given: Mapping[str, object], definitions: Mapping[str, Parameter[Any]]
) -> None:
    for key in given:
        if key in definitions:
            continue
        if not definitions:
            raise InvalidInputError(f"{label} takes no parameters, got {key!r}")
        raise UnknownNameError(f"{label} parameter", str(key), definitions)
