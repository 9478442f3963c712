"""Objectives and constraints: any statistic, either direction, ruin and NaN last, safe text."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.research import Constraint, Objective
from quantdesk.research.objective import as_constraints, as_objective

SURVIVED_GOOD = {"total_return_pct": 12.0, "sharpe": 1.5, "max_drawdown_pct": -8.0}
SURVIVED_POOR = {"total_return_pct": -20.0, "sharpe": -0.4, "max_drawdown_pct": -35.0}
UNDEFINED = {"total_return_pct": 0.0, "sharpe": math.nan, "max_drawdown_pct": 0.0}
RUINED = {"total_return_pct": -100.0, "sharpe": -math.inf, "max_drawdown_pct": -100.0}


def ranked(objective: Objective, runs: dict[str, dict[str, float]]) -> list[str]:
    return sorted(runs, key=lambda name: objective.score(runs[name]), reverse=True)


RUNS = {"ruined": RUINED, "undefined": UNDEFINED, "poor": SURVIVED_POOR, "good": SURVIVED_GOOD}


def test_maximising_ranks_ruin_after_nan_after_every_number() -> None:
    assert ranked(Objective(), RUNS) == ["good", "poor", "undefined", "ruined"]


def test_minimising_still_ranks_ruin_and_nan_last() -> None:
    assert ranked(Objective("sharpe", "minimise"), RUNS) == ["poor", "good", "undefined", "ruined"]
    by_depth = Objective("max_drawdown_pct", "minimise")
    assert ranked(by_depth, RUNS)[-1] == "ruined"


def test_any_statistic_can_be_the_objective_and_a_miss_suggests() -> None:
    assert as_objective(None) == Objective("sharpe", "maximise")
    assert as_objective("sortino") == Objective("sortino")
    with pytest.raises(UnknownNameError, match="sharpe"):
        Objective("sharp")
    with pytest.raises(InvalidInputError, match="'maximise' or 'minimise'"):
        Objective("sharpe", "up")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "key", "comparison", "threshold"),
    [
        ("n_trades >= 10", "n_trades", ">=", 10.0),
        ("max_drawdown_pct > -30", "max_drawdown_pct", ">", -30.0),
        ("  sharpe<=2.5 ", "sharpe", "<=", 2.5),
        ("win_rate_pct != 0", "win_rate_pct", "!=", 0.0),
        ("exposure_pct == 1e2", "exposure_pct", "==", 100.0),
        ("sqn < .5", "sqn", "<", 0.5),
    ],
)
def test_constraints_read_key_op_number(
    text: str, key: str, comparison: str, threshold: float
) -> None:
    assert Constraint.parse(text) == Constraint(key, comparison, threshold)


@pytest.mark.parametrize(
    "text",
    ["n_trades >= ten", "n_trades => 10", "__import__('os') > 1", "n_trades >= 10 and 1", "10 < x"],
)
def test_anything_else_is_refused_never_evaluated(text: str) -> None:
    with pytest.raises(InvalidInputError, match="KEY OP NUMBER"):
        Constraint.parse(text)


def test_an_unknown_statistic_in_a_constraint_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="n_trades"):
        Constraint.parse("n_trade >= 10")


def test_constraints_are_met_by_numbers_never_by_nan() -> None:
    constraint = Constraint.parse("max_drawdown_pct > -30")
    assert constraint.is_met(SURVIVED_GOOD)
    assert not constraint.is_met(SURVIVED_POOR)
    assert not Constraint.parse("sharpe > -5").is_met(UNDEFINED)
    assert Constraint.parse("sharpe != 1").is_met(SURVIVED_GOOD)


def test_durations_are_compared_in_days() -> None:
    stats = {"max_drawdown_duration": pd.Timedelta(hours=36)}
    assert Constraint.parse("max_drawdown_duration <= 1.5").is_met(stats)
    assert not Constraint.parse("max_drawdown_duration < 1.5").is_met(stats)


def test_constraints_come_from_one_text_many_or_none() -> None:
    assert as_constraints(None) == ()
    assert as_constraints("n_trades >= 1") == (Constraint("n_trades", ">=", 1.0),)
    mixed = as_constraints(["n_trades >= 1", Constraint("sharpe", ">", 0.0)])
    assert [str(constraint) for constraint in mixed] == ["n_trades >= 1", "sharpe > 0"]
    assert str(Constraint.parse("sharpe > 0.25")) == "sharpe > 0.25"
