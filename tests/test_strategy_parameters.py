"""Strategy parameters: types, bounds, text parsing, cross-parameter rules and messages."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.strategies import Parameter, Signals, Strategy, parse_assignments
from quantdesk.strategies.bollinger_breakout import BollingerBreakout
from quantdesk.strategies.breakout_scalping import BreakoutScalping
from quantdesk.strategies.rsi_reversion import RsiReversion
from quantdesk.strategies.sma_cross import SmaCross
from tests.frames import bars_from_closes


class Unnamed(Strategy):
    """A strategy without a name, so it stays out of the registry."""

    window = Parameter(5, minimum=1, maximum=50, description="bars")
    level = Parameter(0.5, minimum=0.0, maximum=1.0)
    enabled = Parameter(True)

    def _signals(self, frame: pd.DataFrame) -> Signals:
        return Signals.from_series(np.zeros(len(frame), dtype=np.bool_))


def test_defaults_fill_in_and_values_read_as_plain_attributes() -> None:
    strategy = SmaCross(slow=30)
    assert strategy.parameters == {"fast": 10, "slow": 30, "short": False}
    assert strategy.fast == 10
    assert type(strategy.slow) is int
    assert SmaCross.fast.default == 10
    assert SmaCross.fast.kind == "int"


def test_repr_shows_every_parameter_and_label_only_the_changed_ones() -> None:
    strategy = SmaCross(fast=5)
    assert repr(strategy) == "SmaCross(fast=5, slow=20, short=False)"
    assert strategy.label == "sma_cross(fast=5)"
    assert SmaCross().label == "sma_cross"


def test_unknown_parameter_names_the_close_match() -> None:
    with pytest.raises(
        UnknownNameError, match=r"unknown sma_cross parameter 'fsat'; did you mean 'fast'\?"
    ):
        SmaCross(fsat=3)


def test_unknown_parameter_without_a_close_match_lists_the_options() -> None:
    with pytest.raises(UnknownNameError, match="choose one of: fast, short, slow"):
        SmaCross(zzz=3)


def test_fast_must_be_below_slow() -> None:
    with pytest.raises(InvalidInputError, match=r"fast \(20\) must be below slow \(10\)"):
        SmaCross(fast=20, slow=10)
    with pytest.raises(InvalidInputError, match=r"fast \(20\) must be below slow \(20\)"):
        SmaCross(fast=20)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"fast": 0}, "sma_cross parameter fast must be >= 1, got 0"),
        ({"fast": -5}, "sma_cross parameter fast must be >= 1, got -5"),
        ({"slow": 1}, "sma_cross parameter slow must be >= 2, got 1"),
        ({"window": 51}, "Unnamed parameter window must be between 1 and 50, got 51"),
        ({"level": 1.5}, r"Unnamed parameter level must be between 0.0 and 1.0, got 1.5"),
    ],
)
def test_values_outside_the_bounds_name_them(parameters: dict[str, object], message: str) -> None:
    strategy_class = Unnamed if "window" in parameters or "level" in parameters else SmaCross
    with pytest.raises(InvalidInputError, match=message):
        strategy_class(**parameters)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"fast": 10.5}, "fast must be a whole number, got float 10.5"),
        ({"fast": True}, "fast must be a whole number, got bool True"),
        ({"fast": "10"}, "got str '10'; pass text through from_text_parameters"),
        ({"fast": None}, "fast must be a whole number, got NoneType None"),
        ({"short": 2}, "short must be true or false, got int 2"),
        ({"short": "yes"}, "short must be true or false"),
    ],
)
def test_wrong_types_are_refused(parameters: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SmaCross(**parameters)


def test_numbers_convert_to_the_parameter_type() -> None:
    strategy = SmaCross(fast=np.int64(5), slow=30.0, short=1)
    assert strategy.parameters == {"fast": 5, "slow": 30, "short": True}
    assert type(strategy.slow) is int
    reversion = RsiReversion(oversold=25, overbought=np.float32(75.0))
    assert type(reversion.oversold) is float
    assert reversion.overbought == 75.0


def test_floats_refuse_nan_and_infinity() -> None:
    with pytest.raises(InvalidInputError, match="level must be a finite number"):
        Unnamed(level=float("nan"))
    with pytest.raises(InvalidInputError, match="level must be a finite number"):
        Unnamed(level=float("inf"))


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ({"fast": "5", "slow": " 30 "}, {"fast": 5, "slow": 30, "short": False}),
        ({"slow": "30.0"}, {"fast": 10, "slow": 30, "short": False}),
        ({"short": "true"}, {"fast": 10, "slow": 20, "short": True}),
        ({"short": "Yes"}, {"fast": 10, "slow": 20, "short": True}),
        ({"short": "1"}, {"fast": 10, "slow": 20, "short": True}),
        ({"short": "on"}, {"fast": 10, "slow": 20, "short": True}),
        ({"short": "FALSE"}, {"fast": 10, "slow": 20, "short": False}),
        ({"short": "no"}, {"fast": 10, "slow": 20, "short": False}),
        ({"short": "0"}, {"fast": 10, "slow": 20, "short": False}),
        ({"fast": 7}, {"fast": 7, "slow": 20, "short": False}),
    ],
)
def test_parameters_read_from_text(texts: dict[str, object], expected: dict[str, object]) -> None:
    assert SmaCross.from_text_parameters(texts).parameters == expected


def test_float_parameters_read_from_text() -> None:
    strategy = RsiReversion.from_text_parameters({"oversold": "25.5", "period": "10"})
    assert strategy.oversold == 25.5
    assert strategy.period == 10


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"fast": "ten"}, "sma_cross parameter fast must be a whole number, got text 'ten'"),
        ({"fast": "10.5"}, "fast must be a whole number, got float 10.5"),
        ({"fast": "0"}, "fast must be >= 1, got 0"),
        ({"short": "maybe"}, "short must be true or false, got text 'maybe'"),
        ({"fsat": "3"}, "did you mean 'fast'"),
    ],
)
def test_bad_text_is_refused(texts: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        SmaCross.from_text_parameters(texts)


def test_float_text_refuses_nan() -> None:
    with pytest.raises(InvalidInputError, match="must be a finite number"):
        RsiReversion.from_text_parameters({"oversold": "nan"})


def test_name_value_assignments_split_for_the_command_line() -> None:
    assert parse_assignments(["fast=10", " slow = 30 "]) == {"fast": "10", "slow": "30"}
    with pytest.raises(InvalidInputError, match="write NAME=VALUE"):
        parse_assignments(["fast"])
    with pytest.raises(InvalidInputError, match="write NAME=VALUE"):
        parse_assignments(["=10"])
    with pytest.raises(InvalidInputError, match="given twice"):
        parse_assignments(["fast=1", "fast=2"])


def test_parameters_cannot_be_reassigned() -> None:
    strategy = SmaCross()
    with pytest.raises(AttributeError, match="with_parameters"):
        strategy.fast = 3


def test_with_parameters_returns_a_checked_copy() -> None:
    strategy = SmaCross(fast=5)
    changed = strategy.with_parameters(slow=40)
    assert changed.parameters == {"fast": 5, "slow": 40, "short": False}
    assert strategy.slow == 20
    with pytest.raises(InvalidInputError, match="must be below slow"):
        strategy.with_parameters(fast=40)


def test_equal_parameters_make_equal_hashable_strategies() -> None:
    assert SmaCross(fast=5) == SmaCross(fast=5.0)
    assert SmaCross(fast=5) != SmaCross(fast=6)
    assert SmaCross() != Unnamed()
    assert len({SmaCross(), SmaCross(), SmaCross(short=True)}) == 2


def test_strategies_pickle() -> None:
    strategy = RsiReversion(period=10, short=True)
    assert pickle.loads(pickle.dumps(strategy)) == strategy


def test_parameter_specs_describe_every_parameter() -> None:
    specs = SmaCross.parameter_specs()
    assert [spec["name"] for spec in specs] == ["fast", "slow", "short"]
    assert specs[0] == {
        "name": "fast",
        "type": "int",
        "default": 10,
        "minimum": 1,
        "maximum": None,
        "description": "bars in the fast moving average",
    }
    assert specs[2]["type"] == "bool"
    described = BreakoutScalping.describe()
    assert described["name"] == "breakout_scalping"
    assert described["class"] == "quantdesk.strategies.breakout_scalping:BreakoutScalping"
    assert described["description"]
    assert {spec["type"] for spec in described["parameters"]} == {"int", "float", "bool"}


def test_every_built_in_documents_its_parameters() -> None:
    for strategy_class in (SmaCross, RsiReversion, BollingerBreakout, BreakoutScalping):
        assert strategy_class.description
        for spec in strategy_class.parameter_specs():
            assert spec["description"], f"{strategy_class.name}.{spec['name']}"


def test_subclasses_inherit_and_override_parameters() -> None:
    class SlowerCross(SmaCross):
        slow = Parameter(50, minimum=2, description="a longer slow average")

    class FixedSide(SmaCross):
        short = True

    assert SlowerCross().parameters == {"fast": 10, "slow": 50, "short": False}
    assert list(FixedSide.parameter_definitions()) == ["fast", "slow"]
    with pytest.raises(UnknownNameError):
        FixedSide(short=False)


def test_description_defaults_to_the_first_docstring_line() -> None:
    assert Unnamed.description == "A strategy without a name, so it stays out of the registry."
    assert Unnamed().label == "Unnamed"


def test_a_strategy_without_parameters_refuses_any() -> None:
    class Bare(Strategy):
        def _signals(self, frame: pd.DataFrame) -> Signals:
            return Signals.from_series(np.zeros(len(frame), dtype=np.bool_))

    with pytest.raises(InvalidInputError, match="Bare takes no parameters, got 'x'"):
        Bare(x=1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Parameter("ten"),  # type: ignore[type-var]
            "must be an int, float or bool",
        ),
        (lambda: Parameter(float("nan")), "must be finite"),
        (lambda: Parameter(True, minimum=0), "bool Parameter takes no minimum"),
        (lambda: Parameter(5, minimum=10), r"default 5 must be >= 10"),
        (lambda: Parameter(5, minimum=10, maximum=1), "must not exceed maximum"),
        (lambda: Parameter(5, minimum=0.5), "whole-number bounds"),
    ],
)
def test_bad_parameter_declarations_are_refused(build: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build()  # type: ignore[operator]


def test_parameter_names_cannot_shadow_strategy_attributes() -> None:
    with pytest.raises(InvalidInputError, match="cannot name a parameter 'label'"):

        class Clashing(Strategy):
            label = Parameter(1)  # type: ignore[assignment]

            def _signals(self, frame: pd.DataFrame) -> Signals:
                raise NotImplementedError


def test_too_short_data_is_refused_in_one_line() -> None:
    frame = bars_from_closes(np.linspace(100, 120, 150))
    with pytest.raises(
        InvalidInputError,
        match=r"^sma_cross\(slow=200\) needs at least 201 bars, the data has 150$",
    ):
        SmaCross(slow=200).signals(frame)


def test_missing_columns_and_non_frames_are_refused() -> None:
    frame = bars_from_closes(np.linspace(100, 120, 40))
    with pytest.raises(UnknownNameError, match="unknown column 'volume'"):
        BreakoutScalping().signals(frame.drop(columns="volume"))
    with pytest.raises(InvalidInputError, match="needs an OHLCV DataFrame, got Series"):
        SmaCross().signals(frame["close"])  # type: ignore[arg-type]


def test_signals_must_fit_the_frame() -> None:
    class Wrong(Strategy):
        def _signals(self, frame: pd.DataFrame) -> Signals:
            return Signals.from_series(np.zeros(len(frame) - 1, dtype=np.bool_))

    class NotSignals(Strategy):
        def _signals(self, frame: pd.DataFrame) -> Signals:
            return [True] * len(frame)  # type: ignore[return-value]

    frame = bars_from_closes(np.linspace(100, 120, 10))
    with pytest.raises(InvalidInputError, match="signals cover 9 bars but the data has 10"):
        Wrong().signals(frame)
    with pytest.raises(InvalidInputError, match="returned list; return a Signals"):
        NotSignals().signals(frame)


@pytest.mark.parametrize(
    ("strategy_class", "parameters", "message"),
    [
        (RsiReversion, {"oversold": 60.0}, r"oversold \(60.0\) must be below exit_level \(50.0\)"),
        (
            RsiReversion,
            {"oversold": 40.0, "exit_level": 80.0, "overbought": 35.0},
            r"oversold \(40.0\) must be below overbought \(35.0\)",
        ),
        (
            RsiReversion,
            {"exit_level": 20.0, "oversold": 10.0, "short": True},
            r"short exit 100 - exit_level \(80.0\) must be below overbought \(70.0\)",
        ),
        (RsiReversion, {"period": 1}, "period must be >= 2"),
        (RsiReversion, {"oversold": 101}, "oversold must be between 0.0 and 100.0"),
        (BollingerBreakout, {"deviations": 0}, "deviations must be between 0.1 and 10.0"),
        (BollingerBreakout, {"period": 1}, "period must be >= 2"),
        (BreakoutScalping, {"lookback": 0}, "lookback must be >= 1"),
        (BreakoutScalping, {"stop_atr": -1.0}, "stop_atr must be >= 0.01"),
        (BreakoutScalping, {"maximum_bars_held": 2.5}, "maximum_bars_held must be a whole number"),
        (BreakoutScalping, {"volume_factor": -0.5}, "volume_factor must be >= 0.0"),
    ],
)
def test_built_in_parameter_rules(
    strategy_class: type[Strategy], parameters: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        strategy_class(**parameters)


def test_minimum_bars_follow_the_parameters() -> None:
    assert SmaCross(slow=50).minimum_bars == 51
    assert RsiReversion(period=10).minimum_bars == 12
    assert BollingerBreakout(period=30).minimum_bars == 31
    assert BreakoutScalping(lookback=5, atr_period=14).minimum_bars == 15
    assert BreakoutScalping(lookback=30, atr_period=14).minimum_bars == 31
