"""Features, labels and walk-forward splits: strict time order, proved on data built to break it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.features import (
    FeatureSet,
    check_causal,
    default_feature_set,
    feature_set_names,
    forward_return_labels,
    get_feature_set,
    minimum_rows,
    register_feature_set,
    walk_forward_splits,
)
from tests.frames import sample_bars


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return sample_bars("BTC/USDT", "1h", "2024-01-01", "2024-03-01")


def test_classification_labels_are_whether_the_close_rises_over_the_horizon(
    bars: pd.DataFrame,
) -> None:
    close = bars["close"].to_numpy()
    labels = forward_return_labels(bars, horizon=3)
    expected = (close[3:] > close[:-3]).astype(float)
    np.testing.assert_array_equal(labels.to_numpy()[:-3], expected)
    assert labels.iloc[-3:].isna().all()
    assert labels.name == "up_3"
    assert labels.index.equals(bars.index)


def test_regression_labels_are_the_forward_return(bars: pd.DataFrame) -> None:
    close = bars["close"].to_numpy()
    labels = forward_return_labels(bars, horizon=5, kind="regression")
    np.testing.assert_allclose(labels.to_numpy()[:-5], close[5:] / close[:-5] - 1.0, rtol=1e-12)
    assert labels.iloc[-5:].isna().all()


def test_bad_label_arguments_name_the_fix(bars: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="1 or more"):
        forward_return_labels(bars, horizon=0)
    with pytest.raises(UnknownNameError, match="regression"):
        forward_return_labels(bars, kind="regresion")


def test_default_features_at_a_bar_do_not_change_when_later_bars_do(bars: pd.DataFrame) -> None:
    features = get_feature_set("default")
    cut = len(bars) * 2 // 3
    altered = bars.copy()
    noise = np.random.default_rng(7).uniform(0.5, 1.5, size=len(bars) - cut)
    for column in ("open", "high", "low", "close", "volume"):
        altered.iloc[cut:, altered.columns.get_loc(column)] *= noise
    before = features.compute(bars).iloc[:cut]
    after = features.compute(altered).iloc[:cut]
    pd.testing.assert_frame_equal(before, after)
    # ... while the later rows do change, so the comparison could fail.
    assert not features.compute(bars).iloc[cut:].equals(features.compute(altered).iloc[cut:])


def test_default_features_are_the_indicators_they_name(bars: pd.DataFrame) -> None:
    features = get_feature_set("default").compute(bars)
    close = bars["close"].to_numpy()
    np.testing.assert_allclose(features["return_3"].to_numpy()[3:], close[3:] / close[:-3] - 1)
    np.testing.assert_allclose(
        features["rsi_14"].to_numpy(), talib.RSI(close, timeperiod=14) / 100, equal_nan=True
    )
    sma20 = talib.SMA(close, timeperiod=20)
    np.testing.assert_allclose(
        features["close_to_sma_20"].to_numpy(), close / sma20 - 1, equal_nan=True
    )
    assert features.dtypes.eq(np.float64).all()
    assert not any(column.startswith("up_") for column in features.columns)
    check_causal(get_feature_set("default"), bars)


def test_a_feature_set_that_reads_the_next_bar_is_refused(bars: pd.DataFrame) -> None:
    def peeking(frame: pd.DataFrame) -> pd.DataFrame:
        close = frame["close"]
        return pd.DataFrame(
            {"return_1": close.pct_change(), "next_return": close.shift(-1) / close - 1},
            index=frame.index,
        )

    with pytest.raises(InvalidInputError, match="reads the future: column 'next_return'"):
        check_causal(FeatureSet("peeking", peeking), bars)


def test_a_feature_set_that_uses_the_label_is_refused(bars: pd.DataFrame) -> None:
    def with_label(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"up_4": forward_return_labels(frame, horizon=4)}, index=frame.index)

    with pytest.raises(InvalidInputError, match="reads the future"):
        check_causal(FeatureSet("with_label", with_label), bars)


def test_a_feature_set_normalised_over_the_whole_frame_is_refused(bars: pd.DataFrame) -> None:
    # A subtler leak: scaling by statistics of the whole series, future included.
    def scaled(frame: pd.DataFrame) -> pd.DataFrame:
        close = frame["close"]
        return pd.DataFrame({"z": (close - close.mean()) / close.std()}, index=frame.index)

    with pytest.raises(InvalidInputError, match="reads the future"):
        check_causal(FeatureSet("scaled", scaled), bars)


def test_feature_sets_are_registered_by_name_and_a_miss_lists_them() -> None:
    def ones(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"one": np.ones(len(frame))}, index=frame.index)

    register_feature_set(FeatureSet("test_ones", ones, "ones"), replace=True)
    assert "test_ones" in feature_set_names()
    assert get_feature_set("test_ones").name == "test_ones"
    with pytest.raises(InvalidInputError, match="replace=True"):
        register_feature_set(FeatureSet("test_ones", ones))
    with pytest.raises(UnknownNameError, match="default"):
        get_feature_set("defualt")


def test_a_builder_returning_the_wrong_shape_names_the_fix(bars: pd.DataFrame) -> None:
    def short(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"x": [1.0]})

    with pytest.raises(InvalidInputError, match="one row per input bar"):
        FeatureSet("short", short).compute(bars)


@pytest.mark.parametrize("anchored", [True, False])
@pytest.mark.parametrize(("horizon", "embargo"), [(1, None), (4, None), (4, 10)])
def test_walk_forward_splits_purge_and_embargo_every_label_horizon(
    anchored: bool, horizon: int, embargo: int | None
) -> None:
    rows, folds = 5_000, 4
    splits = walk_forward_splits(rows, folds, horizon, embargo=embargo, anchored=anchored)
    assert [split.fold for split in splits] == list(range(folds))
    gap = horizon if embargo is None else embargo
    for split in splits:
        train, validation, test = split.train, split.validation, split.test
        for block in (train, validation, test):
            np.testing.assert_array_equal(np.diff(block), 1)
        # A training label (bar i looks to i + horizon) ends before validation starts ...
        assert train[-1] + horizon < validation[0]
        # ... and a validation label ends before the test starts, plus the embargo.
        assert validation[-1] + gap < test[0]
        assert test[0] - validation[-1] - 1 == gap
    np.testing.assert_array_equal(
        np.concatenate([split.test for split in splits]), np.arange(splits[0].test[0], rows)
    )
    if anchored:
        assert all(split.train[0] == 0 for split in splits)
    else:
        lengths = {split.validation[-1] - split.train[0] for split in splits}
        assert len(lengths) == 1
        assert splits[-1].train[0] > 0


def test_too_little_data_says_how_much_is_needed() -> None:
    needed = minimum_rows(5, 24)
    assert len(walk_forward_splits(needed, 5, 24)) == 5
    with pytest.raises(
        InvalidInputError, match=f"at least {needed:,} bars, the data has {needed - 1:,}"
    ):
        walk_forward_splits(needed - 1, 5, 24)


def test_an_embargo_shorter_than_the_horizon_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="at least 4"):
        walk_forward_splits(5_000, 3, 4, embargo=2)


def test_the_default_set_takes_other_windows_and_records_them_in_its_name(
    bars: pd.DataFrame,
) -> None:
    slower = default_feature_set(return_lags=(2, 5), window=21, volume_window=48)
    assert slower.name == "default(return_lags=2-5,window=21,volume_window=48)"
    features = slower.compute(bars)
    close = bars["close"].to_numpy()
    np.testing.assert_allclose(features["return_5"].to_numpy()[5:], close[5:] / close[:-5] - 1)
    np.testing.assert_allclose(
        features["rsi_21"].to_numpy(), talib.RSI(close, timeperiod=21) / 100, equal_nan=True
    )
    volume = bars["volume"].to_numpy()
    last = volume[-48:]
    assert features["volume_z_48"].iloc[-1] == pytest.approx(
        (volume[-1] - last.mean()) / last.std(ddof=1)
    )
    assert "return_1" not in features.columns
    assert "rsi_14" not in features.columns
    check_causal(slower, bars)
    assert default_feature_set().name == "default"
    assert list(default_feature_set().compute(bars).columns) == list(
        get_feature_set("default").compute(bars).columns
    )


def test_bad_default_set_windows_name_the_fix() -> None:
    with pytest.raises(InvalidInputError, match="return_lags must be distinct"):
        default_feature_set(return_lags=(0, 3))
    with pytest.raises(InvalidInputError, match="window must be a whole number of bars"):
        default_feature_set(window=1)
    with pytest.raises(InvalidInputError, match=r"slow_window .* must be longer"):
        default_feature_set(band_window=50, slow_window=20)
