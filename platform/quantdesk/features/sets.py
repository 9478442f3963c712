"""Named feature sets: the default one and those users write as plain Python.

A feature set is a name and a function from a canonical OHLCV frame to a frame
of float columns on the same index, where the row at bar ``t`` reads only bars
up to ``t``. Register your own with :func:`register_feature_set`::

    def my_features(frame):
        close = frame["close"]
        return pd.DataFrame({"return_1": close.pct_change()}, index=frame.index)

    register_feature_set(FeatureSet("mine", my_features, "one-bar returns"))

:func:`check_causal` proves the time order on the data at hand; training calls it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError, UnknownNameError
from quantdesk.indicators import adx, bollinger_bands, macd, natr, rsi, sma
from quantdesk.patterns import candlestick_pattern

FeatureBuilder = Callable[[pd.DataFrame], pd.DataFrame]

RETURN_LAGS = (1, 3, 6, 12, 24)
OSCILLATOR_WINDOW = 14
BAND_WINDOW = 20
SLOW_WINDOW = 50
VOLUME_WINDOW = 24
CAUSAL_PROBES = 3


@dataclass(frozen=True)
class FeatureSet:
    """A named function from bars to features.

    Attributes
    ----------
    name
        How it is chosen and recorded with a model.
    build
        Bars to a frame of features on the same index.
    description
        One line for listings.
    version
        Bumped when the features change, so models trained on the old ones are stale.
    """

    name: str
    build: FeatureBuilder = field(repr=False)
    description: str = ""
    version: int = 1

    def compute(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The features of every bar: float64 columns on the frame's index.

        Rows the features cannot fill yet (the warm-up) hold NaN.

        Raises
        ------
        InvalidInputError
            If the builder returns something other than a frame on the same
            index, or a column that is not numeric.
        """
        built = self.build(frame)
        if not isinstance(built, pd.DataFrame):
            raise InvalidInputError(
                f"feature set {self.name!r} returned {type(built).__name__}; return a DataFrame"
            )
        if not built.index.equals(frame.index):
            raise InvalidInputError(
                f"feature set {self.name!r} changed the index; return one row per input bar"
            )
        numeric = built.apply(pd.to_numeric, errors="coerce")
        broken = [
            str(column)
            for column in built.columns
            if numeric[column].isna().sum() > built[column].isna().sum()
        ]
        if broken:
            raise InvalidInputError(
                f"feature set {self.name!r} column {broken[0]!r} is not numeric; "
                "return numbers only"
            )
        features = numeric.astype(np.float64)
        features.columns = [str(column) for column in features.columns]
        cleaned: pd.DataFrame = features.replace([np.inf, -np.inf], np.nan)
        return cleaned


def check_causal(feature_set: FeatureSet, frame: pd.DataFrame, probes: int = CAUSAL_PROBES) -> None:
    """Prove on ``frame`` that each row of features reads no later bar.

    The features are computed on the whole frame and again on copies cut
    after a few probe bars; every row up to a cut must be the same in both.

    Parameters
    ----------
    feature_set
        The set to check.
    frame
        The bars it will be trained on.
    probes
        How many cuts, spread over the second half of the frame.

    Raises
    ------
    InvalidInputError
        Naming the first column whose value at a bar changes when later bars
        are removed: it reads the future.
    """
    whole = feature_set.compute(frame)
    rows = len(frame)
    cuts = sorted({int(rows * (0.5 + 0.5 * k / (probes + 1))) for k in range(1, probes + 1)})
    for cut in cuts:
        if cut < 1 or cut >= rows:
            continue
        early = feature_set.compute(frame.iloc[:cut])
        later = whole.iloc[:cut]
        for column in later.columns:
            mine = early[column].to_numpy()
            theirs = later[column].to_numpy()
            same = np.isclose(mine, theirs, rtol=1e-9, atol=1e-12, equal_nan=True)
            if not same.all():
                where = frame.index[int(np.argmin(same))]
                raise InvalidInputError(
                    f"feature set {feature_set.name!r} reads the future: column {column!r} at "
                    f"{where} changes when bars after {frame.index[cut - 1]} are removed; "
                    "features at a bar may use only that bar and earlier ones"
                )


def default_features(
    frame: pd.DataFrame,
    *,
    return_lags: tuple[int, ...] = RETURN_LAGS,
    window: int = OSCILLATOR_WINDOW,
    band_window: int = BAND_WINDOW,
    slow_window: int = SLOW_WINDOW,
    volume_window: int = VOLUME_WINDOW,
) -> pd.DataFrame:
    """The default set: returns, momentum, trend, volatility, volume and two candlesticks.

    Every column is scale-free (ratios, oscillators divided by 100), so one model
    fits symbols of any price. The windows are those of
    :func:`default_feature_set`, whose defaults these are.
    """
    close = frame["close"]
    columns: dict[str, pd.Series] = {}
    for lag in return_lags:
        columns[f"return_{lag}"] = close.pct_change(lag, fill_method=None)
    columns[f"rsi_{window}"] = rsi(frame, window) / 100.0
    columns[f"adx_{window}"] = adx(frame, window) / 100.0
    columns[f"natr_{window}"] = natr(frame, window) / 100.0
    bands = bollinger_bands(frame, band_window, 2.0)
    width = bands["upper"] - bands["lower"]
    columns[f"bollinger_position_{band_window}"] = (close - bands["lower"]) / width.where(width > 0)
    columns[f"close_to_sma_{band_window}"] = close / sma(frame, band_window) - 1.0
    columns[f"sma_{band_window}_to_sma_{slow_window}"] = (
        sma(frame, band_window) / sma(frame, slow_window) - 1.0
    )
    columns["macd_histogram"] = macd(frame)["histogram"] / close
    columns["range"] = (frame["high"] - frame["low"]) / close
    volume = frame["volume"].astype(np.float64)
    mean = volume.rolling(volume_window).mean()
    spread = volume.rolling(volume_window).std()
    columns[f"volume_z_{volume_window}"] = (volume - mean) / spread.where(spread > 0)
    for pattern in ("engulfing", "hammer"):
        columns[pattern] = candlestick_pattern(frame, pattern).astype(np.float64)
    return pd.DataFrame(columns, index=frame.index)


def default_feature_set(
    *,
    return_lags: Sequence[int] = RETURN_LAGS,
    window: int = OSCILLATOR_WINDOW,
    band_window: int = BAND_WINDOW,
    slow_window: int = SLOW_WINDOW,
    volume_window: int = VOLUME_WINDOW,
    name: str | None = None,
) -> FeatureSet:
    """The default feature set with other windows, e.g. for a slower timeframe.

    Parameters
    ----------
    return_lags
        The bars each return feature spans.
    window
        RSI, ADX and NATR's window.
    band_window, slow_window
        The Bollinger and fast SMA window, and the slow SMA's (longer).
    volume_window
        The volume z-score's window.
    name
        What models record it as; by default ``"default"`` with the changed
        windows, e.g. ``"default(window=21)"``, so a model trained on one
        configuration is never reused for another.

    Returns
    -------
    FeatureSet
        Not registered; pass it as ``feature_set=`` or register it.

    Raises
    ------
    InvalidInputError
        For a window under 2, a lag under 1, or a slow window not longer than the band's.
    """
    lags = tuple(int(lag) for lag in return_lags)
    if not lags or min(lags) < 1 or len(set(lags)) != len(lags):
        raise InvalidInputError(
            f"return_lags must be distinct whole bars of 1 or more, e.g. (1, 3, 6); got {lags}"
        )
    windows = {
        "window": window,
        "band_window": band_window,
        "slow_window": slow_window,
        "volume_window": volume_window,
    }
    for label, value in windows.items():
        if int(value) != value or value < 2:
            raise InvalidInputError(
                f"{label} must be a whole number of bars, 2 or more; got {value}"
            )
    if slow_window <= band_window:
        raise InvalidInputError(
            f"slow_window ({slow_window}) must be longer than band_window ({band_window})"
        )
    chosen = {"return_lags": lags, **{label: int(value) for label, value in windows.items()}}
    defaults = {
        "return_lags": RETURN_LAGS,
        "window": OSCILLATOR_WINDOW,
        "band_window": BAND_WINDOW,
        "slow_window": SLOW_WINDOW,
        "volume_window": VOLUME_WINDOW,
    }
    changed = [
        f"{label}={'-'.join(map(str, value)) if isinstance(value, tuple) else value}"
        for label, value in chosen.items()
        if value != defaults[label]
    ]
    automatic = f"default({','.join(changed)})" if changed else "default"
    return FeatureSet(
        automatic if name is None else name,
        functools.partial(default_features, **chosen),  # type: ignore[arg-type]
        DEFAULT_DESCRIPTION if not changed else f"{DEFAULT_DESCRIPTION} ({', '.join(changed)})",
    )


DEFAULT_DESCRIPTION = (
    "returns over 1-24 bars, RSI, ADX, NATR, Bollinger position, SMA ratios, "
    "MACD histogram, range, volume z-score, engulfing and hammer"
)

FEATURE_SETS: dict[str, FeatureSet] = {"default": default_feature_set()}
"""Every feature set by name; :func:`register_feature_set` adds to it."""


def register_feature_set(feature_set: FeatureSet, *, replace: bool = False) -> FeatureSet:
    """Make ``feature_set`` available by its name.

    Parameters
    ----------
    feature_set
        The set.
    replace
        Allow replacing a set of the same name.

    Returns
    -------
    FeatureSet
        The set, registered.

    Raises
    ------
    InvalidInputError
        If the name is empty or taken and ``replace`` is false.
    """
    if not feature_set.name or not feature_set.name.strip():
        raise InvalidInputError("a feature set needs a name; pass FeatureSet('my_set', ...)")
    if feature_set.name in FEATURE_SETS and not replace:
        raise InvalidInputError(
            f"feature set {feature_set.name!r} exists; choose another name or pass replace=True"
        )
    FEATURE_SETS[feature_set.name] = feature_set
    return feature_set


def get_feature_set(name: str | FeatureSet) -> FeatureSet:
    """The feature set called ``name`` (a :class:`FeatureSet` is returned as it is).

    Raises
    ------
    UnknownNameError
        Listing the sets there are, or the close matches.
    """
    if isinstance(name, FeatureSet):
        return name
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise UnknownNameError("feature set", name, FEATURE_SETS) from None


def feature_set_names() -> list[str]:
    """Every registered feature set's name, sorted."""
    return sorted(FEATURE_SETS)
