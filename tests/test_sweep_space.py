"""Parameter spaces: the ``NAME=VALUES`` grammar, typing, bounds, lazy grids and sampling."""

from __future__ import annotations

import itertools

import pytest

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.research import ParameterSpace, parse_parameter_space
from quantdesk.strategies.rsi_reversion import RsiReversion


def axes(space: ParameterSpace) -> dict[str, list[object]]:
    return {name: list(values) for name, values in space.axes}


def test_a_range_includes_its_stop_a_list_and_a_fixed_value_are_read() -> None:
    space = parse_parameter_space("sma_cross", ["fast=5:50:5", "slow=60,80,100", "short=true"])
    assert axes(space) == {
        "fast": [5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
        "slow": [60, 80, 100],
        "short": [True],
    }
    assert all(type(value) is int for value in space.axes[0][1])
    assert space.size == 10 * 3 * 1


def test_a_range_whose_steps_miss_the_stop_ends_before_it() -> None:
    assert axes(parse_parameter_space("sma_cross", ["fast=5:12:5"]))["fast"] == [5, 10]


def test_float_steps_do_not_accumulate_error() -> None:
    space = parse_parameter_space("rsi_reversion", ["oversold=0.1:0.9:0.1"])
    expected = [round(0.1 * number, 10) for number in range(1, 10)]
    assert axes(space)["oversold"] == expected
    assert all(type(value) is float for value in space.axes[0][1])
    assert axes(parse_parameter_space("rsi_reversion", ["oversold=10:30:2.5"]))["oversold"] == [
        10.0,
        12.5,
        15.0,
        17.5,
        20.0,
        22.5,
        25.0,
        27.5,
        30.0,
    ]


def test_a_negative_step_counts_down() -> None:
    assert axes(parse_parameter_space("sma_cross", ["fast=20:10:-5"]))["fast"] == [20, 15, 10]


def test_a_mapping_takes_texts_values_and_sequences() -> None:
    space = parse_parameter_space(
        RsiReversion, {"period": range(10, 16, 5), "oversold": 25, "short": "true,false"}
    )
    assert axes(space) == {"period": [10, 15], "oversold": [25.0], "short": [True, False]}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("fast=5:50:0", "step 0"),
        ("fast=5:50:-5", "step must be positive"),
        ("fast=50:5:5", "step must be negative"),
        ("fast=5:50", "START:STOP:STEP"),
        ("fast=a:50:5", "must be numbers"),
        ("fast=5,,10", "empty value"),
        ("fast=", "empty value"),
        ("fast=5,5", "twice"),
        ("fast=1:3:0.5", "whole number"),
        ("fast=0:10:5", "must be >= 1"),
        ("short=0:1:1", "list the values"),
        ("short=maybe", "true or false"),
        ("fast", "NAME=VALUE"),
    ],
)
def test_mistakes_are_refused_with_one_line_naming_the_fix(assignment: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        parse_parameter_space("sma_cross", [assignment])
    assert "\n" not in str(caught.value)


def test_an_unknown_parameter_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError, match="fast") as caught:
        parse_parameter_space("sma_cross", ["fats=5:10:5"])
    assert "sma_cross parameter" in str(caught.value)


def test_the_grid_is_lazy_and_in_product_order() -> None:
    space = parse_parameter_space("sma_cross", ["fast=1:100000:1", "slow=2:100001:1"])
    assert space.size == 100_000 * 100_000
    first = list(itertools.islice(space.grid(), 3))
    assert first == [{"fast": 1, "slow": 2}, {"fast": 1, "slow": 3}, {"fast": 1, "slow": 4}]
    assert space.combination(100_000 + 2) == {"fast": 2, "slow": 4}


def test_combination_agrees_with_the_grid() -> None:
    space = parse_parameter_space("sma_cross", ["fast=1:4:1", "slow=10,20,30", "short=true,false"])
    assert [space.combination(number) for number in range(space.size)] == list(space.grid())
    with pytest.raises(InvalidInputError, match="outside the grid"):
        space.combination(space.size)


def test_random_samples_without_replacement_repeatably() -> None:
    space = parse_parameter_space("sma_cross", ["fast=1:30:1", "slow=31:60:1"])
    sample = space.random(40, seed=7)
    assert len(sample) == 40
    keys = [(combination["fast"], combination["slow"]) for combination in sample]
    assert len(set(keys)) == 40
    assert sample == space.random(40, seed=7)
    assert sample != space.random(40, seed=8)
    grid = list(space.grid())
    positions = [grid.index(combination) for combination in sample]
    assert positions == sorted(positions)


def test_random_samples_a_huge_grid_without_listing_it() -> None:
    space = parse_parameter_space("sma_cross", ["fast=1:100000:1", "slow=2:100001:1"])
    sample = space.random(5, seed=1)
    assert len({tuple(combination.values()) for combination in sample}) == 5


def test_random_of_at_least_the_size_is_the_whole_grid() -> None:
    space = parse_parameter_space("sma_cross", ["fast=5,10", "slow=20,30"])
    assert space.random(4, seed=1) == list(space.grid()) == space.random(10)
    with pytest.raises(InvalidInputError, match="at least 1"):
        space.random(0)


def test_the_space_describes_itself() -> None:
    space = parse_parameter_space("sma_cross", ["fast=5,10", "slow=20"])
    assert space.to_dict() == {
        "strategy": "sma_cross",
        "parameters": {"fast": [5, 10], "slow": [20]},
        "size": 2,
    }
