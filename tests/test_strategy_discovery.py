"""Finding strategies: entry points, module:Class paths, and classes defined in this process."""

from __future__ import annotations

import textwrap
import uuid
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.strategies import (
    ENTRY_POINT_GROUP,
    Parameter,
    Signals,
    Strategy,
    available_strategies,
    get_strategy,
    register_strategy,
    registry,
    strategy_class,
)
from quantdesk.strategies.bollinger_breakout import BollingerBreakout
from quantdesk.strategies.breakout_scalping import BreakoutScalping
from quantdesk.strategies.ml_predictive import MlPredictive
from quantdesk.strategies.rsi_reversion import RsiReversion
from quantdesk.strategies.sma_cross import SmaCross

BUILT_INS = {
    "sma_cross": SmaCross,
    "rsi_reversion": RsiReversion,
    "bollinger_breakout": BollingerBreakout,
    "breakout_scalping": BreakoutScalping,
    "ml_predictive": MlPredictive,
}


@pytest.fixture(autouse=True)
def _private_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let each test define strategies without leaving them registered for the next."""
    monkeypatch.setattr(registry, "_defined_strategies", dict(registry._defined_strategies))


def flat_signals(frame: pd.DataFrame) -> Signals:
    return Signals.from_series(np.zeros(len(frame), dtype=np.bool_))


@pytest.fixture
def module_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh importable module holding one strategy, one function and one helper class."""
    module_name = f"strategies_{uuid.uuid4().hex[:8]}"
    source = f"""
        import numpy as np
        from quantdesk.strategies import Parameter, Signals, Strategy

        class Momentum(Strategy):
            period = Parameter(5, minimum=1, description="bars back")

            def _signals(self, frame):
                change = frame["close"].diff(self.period).fillna(0.0)
                return Signals.from_target_position(np.sign(change.to_numpy()))

        class Holder:
            class Nested(Momentum):
                pass

        def helper():
            return None

        NAME = {module_name!r}
    """
    (tmp_path / f"{module_name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    return module_name


def test_the_entry_point_group_lists_the_built_ins() -> None:
    installed = {entry.name: entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)}
    for name, built_in in BUILT_INS.items():
        assert installed[name] == f"{built_in.__module__}:{built_in.__qualname__}"


def test_available_strategies_holds_the_built_ins() -> None:
    found = available_strategies()
    for name, built_in in BUILT_INS.items():
        assert found[name] is built_in
    assert list(found) == sorted(found)


@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_built_ins_are_found_by_name(name: str) -> None:
    strategy = get_strategy(name)
    assert type(strategy) is BUILT_INS[name]
    assert strategy.name == name


def test_names_ignore_case_and_dashes() -> None:
    assert type(get_strategy(" SMA-Cross ")) is SmaCross


def test_get_strategy_passes_parameters() -> None:
    assert get_strategy("sma_cross", fast=5, short=True) == SmaCross(fast=5, short=True)
    with pytest.raises(UnknownNameError, match="did you mean 'fast'"):
        get_strategy("sma_cross", fsat=5)


def test_classes_and_instances_pass_through() -> None:
    assert get_strategy(SmaCross, fast=3) == SmaCross(fast=3)
    instance = RsiReversion(period=10)
    assert get_strategy(instance) is instance
    assert get_strategy(instance, period=12) == RsiReversion(period=12)
    assert strategy_class(instance) is RsiReversion


def test_an_unknown_name_names_the_close_matches() -> None:
    with pytest.raises(
        UnknownNameError, match=r"unknown strategy 'sma_crss'; did you mean 'sma_cross'\?"
    ):
        get_strategy("sma_crss")


def test_an_unknown_name_without_close_matches_lists_every_strategy() -> None:
    with pytest.raises(UnknownNameError) as caught:
        get_strategy("zigzag_quantum")
    assert "choose one of:" in str(caught.value)
    assert set(BUILT_INS) <= set(caught.value.options)


def test_other_objects_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="got int"):
        get_strategy(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="is a class, not a Strategy subclass"):
        get_strategy(dict)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="is abstract: it does not implement _signals"):
        get_strategy(Strategy)


# module:Class paths ------------------------------------------------------------------------


def test_a_module_path_imports_the_class(module_on_path: str) -> None:
    strategy = get_strategy(f"{module_on_path}:Momentum", period=3)
    assert type(strategy).__name__ == "Momentum"
    assert strategy.parameters == {"period": 3}
    assert strategy.label == "Momentum(period=3)"
    nested = get_strategy(f"{module_on_path}:Holder.Nested")
    assert type(nested).__name__ == "Nested"


def test_a_missing_module_is_named(module_on_path: str) -> None:
    with pytest.raises(
        InvalidInputError,
        match=r"cannot import module 'no_such_package_xyz\.strategies' for strategy "
        r"'no_such_package_xyz\.strategies:Thing': no module named 'no_such_package_xyz'",
    ):
        get_strategy("no_such_package_xyz.strategies:Thing")


def test_a_missing_class_names_the_close_match(module_on_path: str) -> None:
    with pytest.raises(InvalidInputError, match="did you mean 'Momentum'"):
        get_strategy(f"{module_on_path}:Momentun")


def test_a_module_without_strategies_says_so() -> None:
    with pytest.raises(InvalidInputError, match="has no attribute 'Nope' and defines no Strategy"):
        get_strategy("textwrap:Nope")


def test_an_attribute_that_is_not_a_strategy_is_refused(module_on_path: str) -> None:
    with pytest.raises(InvalidInputError, match="is a function, not a Strategy subclass"):
        get_strategy(f"{module_on_path}:helper")
    with pytest.raises(InvalidInputError, match="is a class, not a Strategy subclass"):
        get_strategy(f"{module_on_path}:Holder")


@pytest.mark.parametrize("path", [":Momentum", "module:", " : "])
def test_an_incomplete_path_is_refused(path: str) -> None:
    with pytest.raises(InvalidInputError, match="write MODULE:CLASS"):
        get_strategy(path)


def test_a_module_that_fails_to_import_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module_name = f"broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module_name}.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(InvalidInputError, match=f"importing '{module_name}'.*RuntimeError: boom"):
        get_strategy(f"{module_name}:Anything")


# classes defined here ----------------------------------------------------------------------


def test_a_named_subclass_registers_itself_on_creation() -> None:
    class Notebook(Strategy):
        name = "notebook_momentum"
        period = Parameter(5, minimum=1)

        def _signals(self, frame: pd.DataFrame) -> Signals:
            return flat_signals(frame)

    assert available_strategies()["notebook_momentum"] is Notebook
    assert get_strategy("notebook_momentum", period=8) == Notebook(period=8)


def test_redefining_a_class_replaces_it() -> None:
    def define() -> type[Strategy]:
        class Redefined(Strategy):
            name = "redefined_strategy"

            def _signals(self, frame: pd.DataFrame) -> Signals:
                return flat_signals(frame)

        return Redefined

    first = define()
    second = define()
    assert first is not second
    assert strategy_class("redefined_strategy") is second


def test_a_different_class_cannot_take_a_registered_name() -> None:
    class Original(Strategy):
        name = "taken_name"

        def _signals(self, frame: pd.DataFrame) -> Signals:
            return flat_signals(frame)

    with pytest.raises(InvalidInputError, match="strategy name 'taken_name' is taken by"):

        class Impostor(Strategy):
            name = "taken_name"

            def _signals(self, frame: pd.DataFrame) -> Signals:
                return flat_signals(frame)

    assert strategy_class("taken_name") is Original


def test_a_class_defined_here_cannot_take_a_built_in_name() -> None:
    strategy_class("sma_cross")
    with pytest.raises(InvalidInputError, match=r"'sma_cross' is taken by .*sma_cross:SmaCross"):

        class MySmaCross(Strategy):
            name = "sma_cross"

            def _signals(self, frame: pd.DataFrame) -> Signals:
                return flat_signals(frame)


def test_a_class_defined_before_the_installed_one_loaded_is_refused_on_lookup() -> None:
    registry._defined_strategies.pop("sma_cross", None)

    class MySmaCross(Strategy):
        name = "sma_cross"

        def _signals(self, frame: pd.DataFrame) -> Signals:
            return flat_signals(frame)

    with pytest.raises(InvalidInputError, match="two strategies are named 'sma_cross'"):
        get_strategy("sma_cross")
    with pytest.raises(InvalidInputError, match="rename the one defined here"):
        available_strategies()


def test_unnamed_and_abstract_classes_are_not_registered() -> None:
    before = set(registry._defined_strategies)

    class Helper(Strategy):
        def _signals(self, frame: pd.DataFrame) -> Signals:
            return flat_signals(frame)

    class Unfinished(Strategy):
        name = "unfinished"

    class Child(SmaCross):
        fast = Parameter(5, minimum=1, description="a faster average")

    assert set(registry._defined_strategies) == before
    assert Child.name == "sma_cross"
    assert strategy_class("sma_cross") is SmaCross
    with pytest.raises(UnknownNameError):
        strategy_class("unfinished")


def test_register_strategy_registers_by_hand_and_checks_the_name() -> None:
    class Inherited(SmaCross):
        pass

    class BadName(Strategy):
        def _signals(self, frame: pd.DataFrame) -> Signals:
            return flat_signals(frame)

    BadName.name = "Bad Name"
    with pytest.raises(
        InvalidInputError, match="must be lowercase letters, digits and underscores"
    ):
        register_strategy(BadName)
    with pytest.raises(InvalidInputError, match="not a Strategy subclass"):
        register_strategy(dict)  # type: ignore[type-var]

    class Renamed(Inherited):
        name = "renamed_cross"

    assert register_strategy(Renamed) is Renamed
    assert strategy_class("renamed_cross") is Renamed


def test_defining_a_class_with_a_bad_name_fails_at_once() -> None:
    with pytest.raises(InvalidInputError, match="must be lowercase"):

        class Shouting(Strategy):
            name = "SHOUTING"

            def _signals(self, frame: pd.DataFrame) -> Signals:
                return flat_signals(frame)
