"""Find strategies by name, by ``module:Class`` path, or as classes defined in this process.

Three ways in, checked in this order by :func:`strategy_class`:

1. A ``Strategy`` subclass or instance is used as it is.
2. Text with a colon, ``"mypackage.strategies:MyStrategy"``, imports the
   module and takes the attribute (dots after the colon reach nested classes).
3. Other text is a name. Installed packages register names through the
   entry-point group ``quantdesk.strategies``, as the built-ins do::

       [project.entry-points."quantdesk.strategies"]
       my_strategy = "mypackage.strategies:MyStrategy"

   and any subclass that sets its own ``name`` registers itself when the
   class is created, so a class defined in a notebook is found by name at
   once. Redefining a class (re-running a notebook cell) replaces it; a
   different class taking a registered name is refused. Names are lowercase;
   lookups ignore case and read ``-`` as ``_``.

"""

from __future__ import annotations

import functools
import importlib
import re
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from quantdesk.errors import InvalidInputError, UnknownNameError, describe_miss
from quantdesk.strategies.base import Strategy, class_path, unimplemented_methods

ENTRY_POINT_GROUP = "quantdesk.strategies"

RESERVED_NAMES: dict[str, str] = {}
"""Names kept for strategies still to come, with the message a lookup gives meanwhile."""

StrategyClass = TypeVar("StrategyClass", bound=type[Strategy])

_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")

_defined_strategies: dict[str, type[Strategy]] = {}


def register_strategy(strategy_class: StrategyClass) -> StrategyClass:
    """Make a strategy class available by its ``name`` in this process.

    Subclasses that set their own ``name`` are registered on creation, so
    this is needed only for a class that inherits its name, or to be explicit.

    Parameters
    ----------
    strategy_class
        A concrete ``Strategy`` subclass with a ``name``.

    Returns
    -------
    type
        The same class, so this works as a decorator.

    Raises
    ------
    InvalidInputError
        When the class is not a concrete strategy, its name is not lowercase
        letters, digits and underscores, or a different class holds the name.
    """
    checked = _require_strategy_class(strategy_class, repr(strategy_class))
    name = checked.name
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            f"{checked.__qualname__}.name must be lowercase letters, digits and underscores, "
            f"e.g. 'my_strategy'; got {name!r}"
        )
    existing = _defined_strategies.get(name)
    if existing is not None and class_path(existing) != class_path(checked):
        raise InvalidInputError(
            f"strategy name {name!r} is taken by {class_path(existing)}; "
            f"give {class_path(checked)} another name"
        )
    _defined_strategies[name] = checked
    return strategy_class


def available_strategies() -> dict[str, type[Strategy]]:
    """Every strategy known by name: installed entry points and classes defined here.

    Returns
    -------
    dict
        Name to strategy class, sorted by name.

    Raises
    ------
    InvalidInputError
        When an entry point cannot be loaded, or a class defined here takes
        the name of an installed one.
    """
    found = {name: _load_entry_point(name) for name in _entry_points()}
    for name, defined in list(_defined_strategies.items()):
        found[name] = _agree(name, found.get(name), defined)
    return dict(sorted(found.items()))


def strategy_class(strategy: str | type[Strategy] | Strategy) -> type[Strategy]:
    """Find a strategy class by name, ``module:Class`` path, class or instance.

    Parameters
    ----------
    strategy
        ``"sma_cross"``, ``"mypackage.strategies:MyStrategy"``, a
        ``Strategy`` subclass, or an instance (its class is returned).

    Returns
    -------
    type
        A concrete ``Strategy`` subclass.

    Raises
    ------
    UnknownNameError
        When no strategy has the name; the message names close matches.
    InvalidInputError
        For a path that cannot be imported or names something other than a
        concrete strategy class, or a reserved name.
    """
    if isinstance(strategy, Strategy):
        return type(strategy)
    if isinstance(strategy, type):
        return _require_strategy_class(strategy, repr(strategy))
    if not isinstance(strategy, str):
        raise InvalidInputError(
            "a strategy is a name such as 'sma_cross', a 'module:Class' path, a Strategy "
            f"subclass or instance; got {type(strategy).__name__}"
        )
    text = strategy.strip()
    if ":" in text:
        return _import_strategy_class(text)
    name = text.lower().replace("-", "_")
    installed = _load_entry_point(name) if name in _entry_points() else None
    defined = _defined_strategies.get(name)
    if defined is not None:
        return _agree(name, installed, defined)
    if installed is not None:
        return installed
    if name in RESERVED_NAMES:
        raise InvalidInputError(RESERVED_NAMES[name])
    raise UnknownNameError("strategy", name, set(_entry_points()) | set(_defined_strategies))


def get_strategy(strategy: str | type[Strategy] | Strategy, **parameters: object) -> Strategy:
    """Build a strategy from a name, ``module:Class`` path, class or instance.

    Parameters
    ----------
    strategy
        What :func:`strategy_class` accepts. An instance is returned as it
        is, or as a copy with ``parameters`` applied.
    **parameters
        Parameter values, checked by the strategy.

    Returns
    -------
    Strategy
        A ready strategy.

    Raises
    ------
    UnknownNameError
        For an unknown strategy or parameter name; the message names close matches.
    InvalidInputError
        For anything else :func:`strategy_class` or the parameters refuse.
    """
    if isinstance(strategy, Strategy):
        return strategy.with_parameters(**parameters) if parameters else strategy
    return strategy_class(strategy)(**parameters)


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    return {entry_point.name: entry_point for entry_point in entry_points(group=ENTRY_POINT_GROUP)}


@functools.cache
def _load_entry_point(name: str) -> type[Strategy]:
    entry_point = _entry_points()[name]
    where = f"entry point {name!r} in {ENTRY_POINT_GROUP} ({entry_point.value})"
    try:
        loaded = entry_point.load()
    except Exception as error:
        raise InvalidInputError(
            f"{where} could not be loaded: {type(error).__name__}: {error}"
        ) from error
    checked = _require_strategy_class(loaded, where)
    if checked.name != name:
        raise InvalidInputError(
            f"{where} names a class whose name is {checked.name!r}; make them equal"
        )
    return checked


def _agree(name: str, installed: type[Strategy] | None, defined: type[Strategy]) -> type[Strategy]:
    if installed is None or installed is defined:
        return defined
    raise InvalidInputError(
        f"two strategies are named {name!r}: {class_path(installed)} (installed) and "
        f"{class_path(defined)} (defined here); rename the one defined here"
    )


def _import_strategy_class(path: str) -> type[Strategy]:
    module_name, _, attribute_path = (part.strip() for part in path.partition(":"))
    if not module_name or not attribute_path:
        raise InvalidInputError(
            f"cannot read strategy path {path!r}; write MODULE:CLASS, "
            "e.g. 'mypackage.strategies:MyStrategy'"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise InvalidInputError(
                f"cannot import module {module_name!r} for strategy {path!r}: "
                f"no module named {missing!r}"
            ) from error
        raise InvalidInputError(
            f"importing {module_name!r} for strategy {path!r} failed: {error}"
        ) from error
    except Exception as error:
        raise InvalidInputError(
            f"importing {module_name!r} for strategy {path!r} failed: "
            f"{type(error).__name__}: {error}"
        ) from error
    found: object = module
    for attribute in attribute_path.split("."):
        if not hasattr(found, attribute):
            raise InvalidInputError(
                _describe_missing_attribute(module, module_name, attribute_path)
            )
        found = getattr(found, attribute)
    return _require_strategy_class(found, repr(path))


def _describe_missing_attribute(module: Any, module_name: str, attribute_path: str) -> str:
    classes = sorted(
        attribute
        for attribute, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, Strategy)
        and not unimplemented_methods(value)
    )
    if not classes:
        return (
            f"module {module_name!r} has no attribute {attribute_path!r} "
            "and defines no Strategy subclass"
        )
    return describe_miss(f"strategy class in {module_name}", attribute_path, classes)


def _require_strategy_class(candidate: object, what: str) -> type[Strategy]:
    if not (isinstance(candidate, type) and issubclass(candidate, Strategy)):
        kind = "a class" if isinstance(candidate, type) else f"a {type(candidate).__name__}"
        raise InvalidInputError(f"{what} is {kind}, not a Strategy subclass")
    missing = unimplemented_methods(candidate)
    if missing:
        raise InvalidInputError(f"{what} is abstract: it does not implement {', '.join(missing)}")
    return candidate
