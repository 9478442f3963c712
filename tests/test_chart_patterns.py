"""Chart patterns on constructed price paths where the answer is known, present and absent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.core.frame import validate_ohlcv
from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.patterns import (
    Breakout,
    DoubleExtreme,
    HeadAndShoulders,
    PriceLevel,
    PricePoint,
    SwingPoint,
    breakouts_to_frame,
    double_extremes_to_frame,
    find_breakouts,
    find_double_bottoms,
    find_double_tops,
    find_head_and_shoulders,
    find_inverse_head_and_shoulders,
    find_levels,
    find_swings,
    head_and_shoulders_to_frame,
    levels_to_frame,
    records_to_frame,
    swing_highs,
    swing_lows,
    swing_positions,
    swings_to_frame,
)
from quantdesk.patterns.double_extremes import _first_reaching

SPREAD = 0.2


def frame_from_closes(
    closes: Sequence[float] | np.ndarray, volumes: Sequence[float] | None = None
) -> pd.DataFrame:
    """Hourly canonical bars from closes: each opens at the previous close.

    The wick beyond the body is ``SPREAD`` in the bar's own direction and half
    that against it, so at a turning point the turning bar, not its
    neighbour that opens at the same price, holds the extreme.
    """
    close = np.asarray(closes, dtype=float)
    open_ = np.r_[close[0], close[:-1]]
    rising = close >= open_
    high = np.maximum(open_, close) + np.where(rising, SPREAD, SPREAD / 2)
    low = np.minimum(open_, close) - np.where(rising, SPREAD / 2, SPREAD)
    volume = np.full(len(close), 1000.0) if volumes is None else np.asarray(volumes, dtype=float)
    index = pd.date_range("2024-01-01", periods=len(close), freq="h", tz="UTC", name="time")
    raw = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )
    return validate_ohlcv(raw)


def path(*knots: tuple[int, float]) -> np.ndarray:
    """Closes on straight lines between (bar, price) knots, one per bar up to the last knot."""
    bars, prices = zip(*knots, strict=True)
    return np.interp(np.arange(bars[-1] + 1), bars, prices)


def random_walk(bars: int = 800, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame_from_closes(100 * np.exp(np.cumsum(rng.normal(0, 0.01, bars))))


RISING = frame_from_closes(np.linspace(100, 150, 200))
FALLING = frame_from_closes(np.linspace(150, 100, 200))

HEAD_AND_SHOULDERS = path(
    (0, 100), (10, 110), (20, 104), (30, 120), (40, 104), (50, 110), (60, 98), (70, 95)
)
DOUBLE_TOP = path((0, 100), (10, 110), (20, 103), (30, 110.5), (40, 98), (45, 97))
DOUBLE_BOTTOM = path((0, 110), (10, 100), (20, 106), (30, 100.5), (40, 108), (50, 112))


# --- swings -----------------------------------------------------------------------------


def test_swings_sit_on_the_turning_points_of_a_zigzag() -> None:
    frame = frame_from_closes(HEAD_AND_SHOULDERS)
    swings = find_swings(frame, order=5)
    assert [(swing.kind, swing.index) for swing in swings] == [
        ("high", 10), ("low", 20), ("high", 30), ("low", 40), ("high", 50),
    ]  # fmt: skip
    head = swings[2]
    assert head.price == pytest.approx(120 + SPREAD)
    assert head.price == frame["high"].iloc[30]
    assert head.time == frame.index[30]
    assert head.confirmation_index == 35
    assert head.confirmation_time == frame.index[35]
    assert swings[1].price == frame["low"].iloc[20]


def test_swing_highs_and_lows_split_find_swings() -> None:
    frame = random_walk(300)
    swings = find_swings(frame, 4)
    assert swing_highs(frame, 4) == [swing for swing in swings if swing.kind == "high"]
    assert swing_lows(frame, 4) == [swing for swing in swings if swing.kind == "low"]
    assert [swing.index for swing in swings] == sorted(swing.index for swing in swings)


@pytest.mark.parametrize("order", [1, 3, 7])
def test_swings_match_a_brute_force_definition(order: int) -> None:
    frame = random_walk(400, seed=order)
    for kind, column in (("high", "high"), ("low", "low")):
        values = frame[column].to_numpy()
        oriented = values if kind == "high" else -values
        expected = [
            bar
            for bar in range(order, len(values) - order)
            if oriented[bar] > np.delete(oriented[bar - order : bar + order + 1], order).max()
        ]
        assert swing_positions(values, order, kind=kind).tolist() == expected
        assert expected


def test_a_monotone_trend_has_no_swings() -> None:
    assert find_swings(RISING, 3) == []
    assert find_swings(FALLING, 3) == []


def test_equal_neighbouring_highs_are_not_a_swing_high() -> None:
    frame = frame_from_closes(path((0, 100), (10, 110), (20, 100)))
    highs = frame["high"].to_numpy().copy()
    highs[11] = highs[10]
    tied = validate_ohlcv(frame.assign(high=highs))
    assert [swing.index for swing in swing_highs(frame, 3)] == [10]
    assert swing_highs(tied, 3) == []


def test_a_turn_within_order_bars_of_the_end_is_not_yet_a_swing() -> None:
    closes = path((0, 100), (10, 110), (20, 100), (25, 105))
    assert [swing.index for swing in find_swings(frame_from_closes(closes[:24]), 5)] == [10]
    assert [swing.index for swing in find_swings(frame_from_closes(closes[:26]), 5)] == [10, 20]


def test_swings_to_frame_has_typed_columns_even_when_empty() -> None:
    frame = swings_to_frame(find_swings(frame_from_closes(HEAD_AND_SHOULDERS), 5))
    assert list(frame.columns) == [
        "kind", "index", "time", "price", "confirmation_index", "confirmation_time",
    ]  # fmt: skip
    assert frame["index"].tolist() == [10, 20, 30, 40, 50]
    assert frame["index"].dtype == np.int64
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    empty = swings_to_frame([])
    assert list(empty.columns) == list(frame.columns)
    assert str(empty["confirmation_time"].dtype) == "datetime64[ns, UTC]"


# --- support and resistance -------------------------------------------------------------

RANGE_BOUND = path(
    (0, 105), (8, 110), (16, 100), (24, 110), (32, 100), (40, 110.5), (48, 100.4), (56, 105)
)


def test_levels_cluster_the_swings_of_a_range() -> None:
    frame = frame_from_closes(RANGE_BOUND)
    levels = find_levels(frame, order=3, tolerance=0.01)
    assert [(level.kind, level.touches) for level in levels] == [("support", 3), ("resistance", 3)]
    support, resistance = levels
    assert support.price == pytest.approx((99.8 + 99.8 + 100.2) / 3)
    assert (support.lower, support.upper) == pytest.approx((99.8, 100.2))
    assert support.first_touch == PricePoint(16, frame.index[16], pytest.approx(99.8))
    assert support.last_touch.index == 48
    assert resistance.price == pytest.approx((110.2 + 110.2 + 110.7) / 3)
    assert (resistance.first_touch.index, resistance.last_touch.index) == (8, 40)


def test_levels_are_sorted_by_touches_first() -> None:
    closes = path(
        (0, 105),
        (8, 110),
        (16, 100),
        (24, 110),
        (32, 100.2),
        (40, 110.3),
        (48, 106),
        (56, 110.1),
        (64, 107),
    )
    levels = find_levels(frame_from_closes(closes), order=3, tolerance=0.01)
    assert [(level.kind, level.touches) for level in levels] == [("resistance", 4), ("support", 2)]


def test_swings_spread_wider_than_the_tolerance_make_no_level() -> None:
    closes = path(
        (0, 100), (8, 110), (16, 105), (24, 120), (32, 115), (40, 130), (48, 125), (56, 140)
    )
    frame = frame_from_closes(closes)
    assert find_levels(frame, order=3, tolerance=0.01) == []
    assert len(find_levels(frame, order=3, tolerance=0.01, minimum_touches=1)) == 6


def test_a_monotone_trend_has_no_levels() -> None:
    assert find_levels(RISING, 3) == []


def test_levels_to_frame_flattens_the_touches() -> None:
    frame = levels_to_frame(find_levels(frame_from_closes(RANGE_BOUND), 3))
    assert list(frame.columns) == [
        "kind", "price", "lower", "upper", "touches",
        "first_touch_index", "first_touch_time", "first_touch_price",
        "last_touch_index", "last_touch_time", "last_touch_price",
    ]  # fmt: skip
    assert frame["touches"].tolist() == [3, 3]


# --- breakouts --------------------------------------------------------------------------

RANGE_CLOSES = [100.0, 101.0, 102.0, 101.0] * 10


def test_a_breakout_from_a_clean_range_on_high_volume() -> None:
    closes = [*RANGE_CLOSES, 105.0, 104.5, 104.8, 104.6]
    volumes = [1000.0] * 40 + [3000.0] + [1000.0] * 3
    frame = frame_from_closes(closes, volumes)
    breakouts = find_breakouts(frame, lookback=20, volume_factor=2.0)
    assert breakouts == [
        Breakout(
            direction="up",
            index=40,
            time=frame.index[40],
            close=105.0,
            level=pytest.approx(102.0 + SPREAD),
            volume=3000.0,
            average_volume=pytest.approx(1000.0),
            volume_ratio=pytest.approx(3.0),
        )
    ]
    assert find_breakouts(frame, lookback=20) == breakouts


def test_a_breakout_without_volume_fails_a_volume_requirement() -> None:
    closes = [*RANGE_CLOSES, 105.0, 104.5]
    frame = frame_from_closes(closes, [1000.0] * 40 + [1200.0, 1000.0])
    assert find_breakouts(frame, lookback=20, volume_factor=2.0) == []
    assert [breakout.index for breakout in find_breakouts(frame, lookback=20)] == [40]
    assert len(find_breakouts(frame, lookback=20, volume_factor=1.1)) == 1


def test_a_downward_breakout() -> None:
    closes = [100.0, 99.0, 98.0, 99.0] * 10 + [95.0, 95.5]
    breakouts = find_breakouts(frame_from_closes(closes), lookback=20)
    assert [(breakout.direction, breakout.index) for breakout in breakouts] == [("down", 40)]
    assert breakouts[0].level == pytest.approx(98.0 - SPREAD)


def test_a_range_alone_has_no_breakouts() -> None:
    assert find_breakouts(frame_from_closes(RANGE_CLOSES), lookback=8) == []


def test_a_steady_trend_breaks_out_on_every_bar_after_the_lookback() -> None:
    breakouts = find_breakouts(RISING, lookback=5)
    assert [breakout.index for breakout in breakouts] == list(range(5, len(RISING)))
    assert {breakout.direction for breakout in breakouts} == {"up"}


def test_a_lookback_longer_than_the_data_finds_nothing() -> None:
    assert find_breakouts(frame_from_closes(RANGE_CLOSES), lookback=100) == []


def test_breakouts_to_frame_columns() -> None:
    frame = breakouts_to_frame(find_breakouts(RISING, lookback=5)[:3])
    assert list(frame.columns) == [
        "direction", "index", "time", "close", "level", "volume", "average_volume", "volume_ratio",
    ]  # fmt: skip
    assert frame["direction"].tolist() == ["up"] * 3


# --- double tops and bottoms ------------------------------------------------------------


def test_a_double_top_confirmed_by_a_close_below_the_trough() -> None:
    frame = frame_from_closes(DOUBLE_TOP)
    (pattern,) = find_double_tops(frame, order=5, tolerance=0.02, minimum_depth=0.02)
    assert pattern.kind == "top"
    assert (pattern.first.index, pattern.second.index, pattern.neckline.index) == (10, 30, 20)
    assert pattern.first.price == pytest.approx(110.2)
    assert pattern.second.price == pytest.approx(110.7)
    assert pattern.neckline.price == pytest.approx(102.8)
    assert pattern.confirmation == PricePoint(37, frame.index[37], pytest.approx(101.75))
    assert pattern.confirmed
    closes = frame["close"].to_numpy()
    assert (closes[35:37] >= pattern.neckline.price).all()


def test_a_double_bottom_confirmed_by_a_close_above_the_peak() -> None:
    frame = frame_from_closes(DOUBLE_BOTTOM)
    (pattern,) = find_double_bottoms(frame, order=5)
    assert pattern.kind == "bottom"
    assert (pattern.first.index, pattern.second.index, pattern.neckline.index) == (10, 30, 20)
    assert (pattern.first.price, pattern.second.price) == pytest.approx((99.8, 100.3))
    assert pattern.neckline.price == pytest.approx(106.2)
    assert pattern.confirmation is not None
    assert pattern.confirmation.index == 38
    assert find_double_tops(frame, order=5, confirmed_only=False) == []


def test_a_second_peak_far_off_the_tolerance_is_no_double_top() -> None:
    for second_peak in (106.0, 116.0):
        closes = path((0, 100), (10, 110), (20, 103), (30, second_peak), (40, 98), (45, 97))
        frame = frame_from_closes(closes)
        assert find_double_tops(frame, order=5, tolerance=0.02, confirmed_only=False) == []
    assert len(find_double_tops(frame_from_closes(DOUBLE_TOP), 5, tolerance=0.002)) == 0


def test_a_shallow_trough_is_no_double_top() -> None:
    frame = frame_from_closes(path((0, 100), (10, 110), (20, 109), (30, 110.2), (40, 98)))
    assert find_double_tops(frame, order=5, minimum_depth=0.02) == []
    assert len(find_double_tops(frame, order=5, minimum_depth=0.01)) == 1


def test_a_higher_bar_between_the_peaks_is_no_double_top() -> None:
    frame = frame_from_closes(DOUBLE_TOP)
    highs = frame["high"].to_numpy().copy()
    highs[19:21] = 111.0
    assert find_double_tops(validate_ohlcv(frame.assign(high=highs)), order=5) == []


def test_an_unbroken_double_top_is_only_reported_as_forming() -> None:
    frame = frame_from_closes(path((0, 100), (10, 110), (20, 103), (30, 110.5), (40, 104)))
    assert find_double_tops(frame, order=5) == []
    (forming,) = find_double_tops(frame, order=5, confirmed_only=False)
    assert forming.confirmation is None
    assert not forming.confirmed


def test_a_double_top_is_void_once_price_rises_above_the_peaks() -> None:
    frame = frame_from_closes(
        path((0, 100), (10, 110), (20, 103), (30, 110.5), (38, 106), (48, 115), (60, 95))
    )
    assert find_double_tops(frame, order=5, confirmed_only=False) == []


def test_trends_and_random_walks_without_structure_have_no_double_extremes() -> None:
    for frame in (RISING, FALLING):
        assert find_double_tops(frame, 3, confirmed_only=False) == []
        assert find_double_bottoms(frame, 3, confirmed_only=False) == []
    walk = random_walk(800, seed=1)
    assert find_double_tops(walk, 3, tolerance=0.0, minimum_depth=0.0, confirmed_only=False) == []
    assert (
        find_double_bottoms(walk, 3, tolerance=0.0, minimum_depth=0.0, confirmed_only=False) == []
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_double_tops_found_in_a_random_walk_satisfy_every_rule(seed: int) -> None:
    frame = random_walk(800, seed=seed)
    high, low, close = (frame[column].to_numpy() for column in ("high", "low", "close"))
    order, tolerance, minimum_depth = 3, 0.02, 0.01
    swing_bars = set(swing_positions(high, order, kind="high").tolist())
    patterns = find_double_tops(frame, order, tolerance, minimum_depth)
    assert patterns
    for pattern in patterns:
        first, second = pattern.first.index, pattern.second.index
        assert {first, second} <= swing_bars
        assert abs(high[second] - high[first]) <= tolerance * high[first]
        assert high[first + 1 : second].max() < max(high[first], high[second])
        assert pattern.neckline.price == low[first + 1 : second].min()
        assert min(high[first], high[second]) - pattern.neckline.price >= minimum_depth * min(
            high[first], high[second]
        )
        assert pattern.confirmation is not None
        confirmation = pattern.confirmation.index
        assert confirmation >= second + order
        assert close[confirmation] < pattern.neckline.price
        assert (close[second + order : confirmation] >= pattern.neckline.price).all()
        assert high[second + 1 : confirmation + 1].max() <= max(high[first], high[second])


def test_first_reaching_matches_a_brute_force_search() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=300).round(1)
    thresholds = values + rng.normal(0, 0.5, size=300).round(1)
    expected = [
        next((later for later in range(bar + 1, 300) if values[later] >= thresholds[bar]), -1)
        for bar in range(300)
    ]
    assert _first_reaching(values, thresholds).tolist() == expected


def test_double_extremes_to_frame_marks_missing_confirmations() -> None:
    frame = frame_from_closes(path((0, 100), (10, 110), (20, 103), (30, 110.5), (40, 104)))
    table = double_extremes_to_frame(find_double_tops(frame, 5, confirmed_only=False))
    assert table["first_index"].tolist() == [10]
    assert table["confirmation_index"].dtype == "Int64"
    assert table["confirmation_index"].isna().all()
    assert table["confirmation_time"].isna().all()
    assert np.isnan(table["confirmation_price"].iloc[0])
    empty = double_extremes_to_frame([])
    assert list(empty.columns) == list(table.columns)
    assert len(empty) == 0


# --- head and shoulders -----------------------------------------------------------------


def test_a_head_and_shoulders_top_with_a_neckline_break() -> None:
    frame = frame_from_closes(HEAD_AND_SHOULDERS)
    (pattern,) = find_head_and_shoulders(frame, order=5)
    assert pattern.kind == "top"
    assert (pattern.left_shoulder.index, pattern.head.index, pattern.right_shoulder.index) == (
        10,
        30,
        50,
    )
    assert (pattern.neckline_start.index, pattern.neckline_end.index) == (20, 40)
    assert pattern.head.price == pytest.approx(120.2)
    assert pattern.neckline_price(56) == pytest.approx(103.8)
    assert pattern.confirmation == PricePoint(56, frame.index[56], pytest.approx(102.8))
    assert find_inverse_head_and_shoulders(frame, order=5, confirmed_only=False) == []


def test_a_sloped_neckline_confirms_on_the_first_close_below_it_once_the_shoulder_is_known() -> (
    None
):
    closes = path(
        (0, 100), (10, 110), (20, 104), (30, 120), (40, 106), (50, 111), (60, 98), (70, 95)
    )
    frame = frame_from_closes(closes)
    (pattern,) = find_head_and_shoulders(frame, order=5)
    assert pattern.neckline_slope == pytest.approx((105.8 - 103.8) / 20)
    assert pattern.neckline_price(54) == pytest.approx(103.8 + 0.1 * 34)
    # Bar 54 already closes below the neckline, but the right shoulder is only known at bar 55.
    assert frame["close"].iloc[54] < pattern.neckline_price(54)
    assert pattern.confirmation is not None
    assert pattern.confirmation.index == 55


def test_an_inverse_head_and_shoulders_bottom() -> None:
    closes = path(
        (0, 120), (10, 110), (20, 116), (30, 100), (40, 116), (50, 110), (60, 122), (70, 125)
    )
    frame = frame_from_closes(closes)
    (pattern,) = find_inverse_head_and_shoulders(frame, order=5)
    assert pattern.kind == "bottom"
    assert (pattern.left_shoulder.index, pattern.head.index, pattern.right_shoulder.index) == (
        10,
        30,
        50,
    )
    assert pattern.head.price == pytest.approx(99.8)
    assert (pattern.neckline_start.price, pattern.neckline_end.price) == pytest.approx(
        (116.2, 116.2)
    )
    assert pattern.confirmation is not None
    assert pattern.confirmation.index == 56
    assert find_head_and_shoulders(frame, order=5, confirmed_only=False) == []


@pytest.mark.parametrize("head", [108.0, 110.0])
def test_a_head_not_above_the_shoulders_is_no_head_and_shoulders(head: float) -> None:
    closes = path(
        (0, 100), (10, 110), (20, 104), (30, head), (40, 104), (50, 110), (60, 98), (70, 95)
    )
    assert find_head_and_shoulders(frame_from_closes(closes), 5, confirmed_only=False) == []


def test_lopsided_shoulders_are_no_head_and_shoulders() -> None:
    closes = path((0, 100), (10, 110), (20, 104), (30, 120), (40, 95), (50, 100), (70, 80))
    frame = frame_from_closes(closes)
    assert find_head_and_shoulders(frame, 5, tolerance=0.03, confirmed_only=False) == []
    assert len(find_head_and_shoulders(frame, 5, tolerance=0.1)) == 1


def test_an_unbroken_head_and_shoulders_is_only_reported_as_forming() -> None:
    closes = path((0, 100), (10, 110), (20, 104), (30, 120), (40, 104), (50, 110), (58, 105))
    frame = frame_from_closes(closes)
    assert find_head_and_shoulders(frame, 5) == []
    (forming,) = find_head_and_shoulders(frame, 5, confirmed_only=False)
    assert forming.confirmation is None


def test_a_head_and_shoulders_is_void_once_price_rises_above_the_head() -> None:
    closes = path(
        (0, 100),
        (10, 110),
        (20, 104),
        (30, 120),
        (40, 104),
        (50, 110),
        (55, 106),
        (65, 125),
        (80, 90),
    )
    assert find_head_and_shoulders(frame_from_closes(closes), 5, confirmed_only=False) == []


def test_trends_have_no_head_and_shoulders() -> None:
    for frame in (RISING, FALLING):
        assert find_head_and_shoulders(frame, 3, confirmed_only=False) == []
        assert find_inverse_head_and_shoulders(frame, 3, confirmed_only=False) == []


@pytest.mark.parametrize("seed", [0, 3])
def test_head_and_shoulders_found_in_a_random_walk_satisfy_every_rule(seed: int) -> None:
    frame = random_walk(800, seed=seed)
    high, low, close = (frame[column].to_numpy() for column in ("high", "low", "close"))
    order, tolerance = 3, 0.03
    swing_bars = swing_positions(high, order, kind="high").tolist()
    patterns = find_head_and_shoulders(frame, order, tolerance)
    assert patterns
    for pattern in patterns:
        left, head, right = (
            pattern.left_shoulder.index,
            pattern.head.index,
            pattern.right_shoulder.index,
        )
        position = swing_bars.index(left)
        assert swing_bars[position : position + 3] == [left, head, right]
        assert high[head] == high[left : right + 1].max()
        assert (high[head] > high[left], high[head] > high[right]) == (True, True)
        assert abs(high[right] - high[left]) <= tolerance * high[left]
        assert pattern.neckline_start.price == low[left + 1 : head].min()
        assert pattern.neckline_end.price == low[head + 1 : right].min()
        assert pattern.confirmation is not None
        confirmation = pattern.confirmation.index
        assert confirmation >= right + order
        assert close[confirmation] < pattern.neckline_price(confirmation)
        earlier = range(right + order, confirmation)
        assert all(close[bar] >= pattern.neckline_price(bar) for bar in earlier)


def test_head_and_shoulders_to_frame_columns() -> None:
    table = head_and_shoulders_to_frame(
        find_head_and_shoulders(frame_from_closes(HEAD_AND_SHOULDERS), 5)
    )
    assert table.loc[0, "head_index"] == 30
    assert table.loc[0, "confirmation_index"] == 56
    assert [column for column in table.columns if column.endswith("_index")] == [
        "left_shoulder_index", "head_index", "right_shoulder_index",
        "neckline_start_index", "neckline_end_index", "confirmation_index",
    ]  # fmt: skip


# --- no detector looks ahead ------------------------------------------------------------

Detector = Callable[[pd.DataFrame], list[Any]]
DETECTORS: dict[str, tuple[Detector, Callable[[Any], int]]] = {
    "swings": (lambda f: find_swings(f, 3), lambda s: s.confirmation_index),
    "breakouts": (lambda f: find_breakouts(f, 15, volume_factor=1.0), lambda b: b.index),
    "double_tops": (lambda f: find_double_tops(f, 3, 0.02, 0.01), lambda p: p.confirmation.index),
    "double_bottoms": (
        lambda f: find_double_bottoms(f, 3, 0.02, 0.01),
        lambda p: p.confirmation.index,
    ),
    "head_and_shoulders": (lambda f: find_head_and_shoulders(f, 3), lambda p: p.confirmation.index),
    "inverse_head_and_shoulders": (
        lambda f: find_inverse_head_and_shoulders(f, 3),
        lambda p: p.confirmation.index,
    ),
}


@pytest.mark.parametrize("name", list(DETECTORS))
def test_no_detector_reads_bars_after_the_one_it_reports(name: str) -> None:
    detect, known_at = DETECTORS[name]
    frame = random_walk(600, seed=2)
    frame = frame.assign(volume=np.random.default_rng(2).uniform(500, 1500, len(frame)).round())
    everything = detect(frame)
    assert everything
    for length in range(60, len(frame), 47):
        known_then = [found for found in everything if known_at(found) < length]
        assert detect(frame.iloc[:length]) == known_then


# --- parameters and inputs --------------------------------------------------------------

SAMPLE = frame_from_closes(HEAD_AND_SHOULDERS)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: find_swings(SAMPLE, 0), "order must be a whole number >= 1, got 0"),
        (lambda: find_swings(SAMPLE, 2.5), "order must be a whole number"),
        (lambda: find_levels(SAMPLE, tolerance=0), r"tolerance must lie in \(0, 1\)"),
        (lambda: find_levels(SAMPLE, tolerance=1.5), "tolerance must lie in"),
        (
            lambda: find_levels(SAMPLE, minimum_touches=0),
            "minimum_touches must be a whole number >= 1",
        ),
        (lambda: find_breakouts(SAMPLE, 0), "lookback must be a whole number >= 1"),
        (
            lambda: find_breakouts(SAMPLE, volume_factor=0),
            "volume_factor must be a finite number > 0",
        ),
        (
            lambda: find_breakouts(SAMPLE, volume_factor=float("nan")),
            "volume_factor must be a finite",
        ),
        (lambda: find_double_tops(SAMPLE, tolerance=-0.1), r"tolerance must lie in \[0, 1\)"),
        (
            lambda: find_double_bottoms(SAMPLE, minimum_depth="deep"),
            "minimum_depth must be a fraction",
        ),
        (lambda: find_head_and_shoulders(SAMPLE, tolerance=1), "tolerance must lie in"),
        (lambda: find_inverse_head_and_shoulders(SAMPLE, order=-1), "order must be"),
        (lambda: swing_positions(SAMPLE["high"].to_numpy(), 3, kind="peak"), "kind must be"),
    ],
)
def test_bad_parameters_are_refused_in_one_line(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_frames_without_a_time_index_or_a_column_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="validate_ohlcv"):
        find_swings(SAMPLE.reset_index(drop=True), 3)
    with pytest.raises(UnknownNameError, match="unknown column 'volume'"):
        find_breakouts(SAMPLE.drop(columns="volume"))
    with pytest.raises(InvalidInputError, match="needs a frame"):
        find_head_and_shoulders(SAMPLE["close"], 3)  # type: ignore[arg-type]


def test_records_are_frozen_and_records_to_frame_checks_the_type() -> None:
    swing = find_swings(SAMPLE, 5)[0]
    with pytest.raises(AttributeError):
        swing.price = 1.0  # type: ignore[misc]
    with pytest.raises(InvalidInputError, match="expected DoubleExtreme records, got SwingPoint"):
        records_to_frame([swing], DoubleExtreme)
    with pytest.raises(InvalidInputError, match="must be a record class"):
        records_to_frame([], dict)
    for record_type in (SwingPoint, PriceLevel, Breakout, DoubleExtreme, HeadAndShoulders):
        assert records_to_frame([], record_type).shape[0] == 0
