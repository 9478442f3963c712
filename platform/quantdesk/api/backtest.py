"""``quantdesk.backtest``: run a strategy on data named by address or given as a frame."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from quantdesk.core.frame import is_canonical, validate_ohlcv, with_nanosecond_index
from quantdesk.core.time_range import TimeLike
from quantdesk.core.timeframe import Timeframe
from quantdesk.engine import BacktestConfig, BacktestResult, run_backtest
from quantdesk.errors import DataRepairWarning, InvalidInputError, UnknownNameError
from quantdesk.strategies import Strategy, get_strategy, strategy_class
from quantdesk.strategies.ml_predictive import MlPredictive

if TYPE_CHECKING:
    # Settings and the data layer load only when the data is given by address.
    from quantdesk.config import Settings
    from quantdesk.data.loader import LoadResult

__all__ = ["BacktestConfig", "BacktestRequest", "BacktestResult", "backtest", "backtest_request"]

CONFIG_FIELDS = frozenset(BacktestConfig.model_fields)
LOADING_KEYWORDS = ("timeframe", "start", "end", "settings")


def backtest(
    strategy: str | type[Strategy] | Strategy,
    data: pd.DataFrame | str,
    *,
    params: Mapping[str, object] | None = None,
    config: BacktestConfig | None = None,
    cash: float | None = None,
    commission: float | None = None,
    lot_size: float | None = None,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> BacktestResult:
    """Backtest a strategy with backtesting.py's fill model.

    Every keyword has one meaning. ``params`` holds strategy parameters and
    ``config`` engine options, always. Any other keyword is a
    :class:`~quantdesk.engine.BacktestConfig` field or a parameter of the
    strategy, whichever of the two has that name; a name that is both is
    refused (pass it in ``params`` or ``config`` instead), and a name that is
    neither is refused with the close matches from both.

    Parameters
    ----------
    strategy
        A registered name (``"sma_cross"``), a ``module:Class`` path, a
        ``Strategy`` class or an instance. ``ml_predictive`` given no
        predictions trains a model walk-forward on the bars (default
        features, ``TrainingConfig()``) and trades its out-of-sample ones.
    data
        A canonical OHLCV frame, or a ``SOURCE:SYMBOL`` address loaded
        through the cache with ``timeframe``, ``start`` and ``end``.
    params
        Strategy parameters by name, whatever their names.
    config
        The engine options; ``BacktestConfig()`` when None. Engine options
        given as keywords change it (the result is validated again).
    cash, commission, lot_size
        Starting cash, commission rate per side, and the smallest tradable
        quantity (1 for stocks, e.g. ``1e-8`` for crypto); the config's own
        (10,000, 0 and 1 by default) when None.
    timeframe, start, end
        Which bars to load when ``data`` is an address.
    settings
        quantdesk's settings, for loading by address; read from the
        environment when None.
    **options
        Other ``BacktestConfig`` fields (``fixed_fee``, ``slippage``,
        ``sizing``, ``size``, ``trade_on_close``, ``finalize_trades``,
        ``stop_loss``, ``take_profit``, ``trailing_stop``,
        ``periods_per_year``, ``risk_free_rate``) and strategy parameters
        (``fast=10``).

    Returns
    -------
    BacktestResult
        Equity, drawdown, trades, stats, and what is needed to reproduce them.

    Raises
    ------
    InvalidInputError
        For an unknown strategy or keyword, a name with two meanings, a bad
        setting, bad data, or data too short for the strategy; one line
        naming the fix.
    """
    request = backtest_request(
        strategy,
        data,
        params=params,
        config=config,
        keywords={"cash": cash, "commission": commission, "lot_size": lot_size, **options},
        timeframe=timeframe,
        start=start,
        end=end,
        settings=settings,
    )
    chosen = request.strategy
    return run_backtest(
        request.frame,
        chosen.signals(request.frame),
        request.config,
        parameters=chosen.parameters,
        strategy_name=chosen.name,
        data_address=request.data_address,
        timeframe=request.timeframe,
    )


@dataclass(frozen=True, eq=False)
class BacktestRequest:
    """What a backtest was asked for, checked: the strategy, the rules and the bars.

    Attributes
    ----------
    strategy
        The strategy with its parameters.
    config
        The trading rules.
    frame
        The bars, canonical.
    data_address, timeframe
        Where the bars came from when loaded by address, else None.
    """

    strategy: Strategy
    config: BacktestConfig
    frame: pd.DataFrame
    data_address: str | None
    timeframe: str | None


def backtest_request(
    strategy: str | type[Strategy] | Strategy,
    data: pd.DataFrame | str,
    *,
    params: Mapping[str, object] | None = None,
    config: BacktestConfig | None = None,
    keywords: Mapping[str, object] | None = None,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    settings: Settings | None = None,
) -> BacktestRequest:
    """Check a backtest's arguments as :func:`backtest` takes them, and load its bars.

    Parameters
    ----------
    strategy, data, params, config, timeframe, start, end, settings
        As for :func:`backtest`.
    keywords
        Engine options and strategy parameters by keyword; None values are ignored.

    Returns
    -------
    BacktestRequest
        The strategy, rules and bars.
    """
    chosen_class = strategy_class(strategy)
    given = {name: value for name, value in (keywords or {}).items() if value is not None}
    loading = {"timeframe": timeframe, "start": start, "end": end, "settings": settings}
    _refuse_loading_clashes(
        chosen_class, [name for name, value in loading.items() if value is not None]
    )
    engine_options, parameters = _split_keywords(chosen_class, given, params)
    chosen = _strategy_with(strategy, parameters)
    engine_config = _engine_config(config, engine_options)
    frame, loaded = request_bars(data, timeframe=timeframe, start=start, end=end, settings=settings)
    return BacktestRequest(
        strategy=_with_model_predictions(chosen, frame),
        config=engine_config,
        frame=frame,
        data_address=None if loaded is None else str(loaded.address),
        timeframe=None if loaded is None else str(loaded.timeframe),
    )


def _with_model_predictions(chosen: Strategy, frame: pd.DataFrame) -> Strategy:
    """``ml_predictive`` given no predictions trades those of a model trained walk-forward here."""
    if not isinstance(chosen, MlPredictive) or chosen.has_predictions(frame):
        return chosen
    from quantdesk.learning import train_model

    try:
        trained = train_model(frame)
    except InvalidInputError as error:
        raise InvalidInputError(
            f"{chosen.name} first trains a model walk-forward on the bars: {error}; to choose "
            "the folds, train with quantdesk.learning.train_model and pass "
            "MlPredictive(predictions=model.out_of_sample)"
        ) from None
    return chosen.with_predictions(trained.out_of_sample)


def _split_keywords(
    chosen_class: type[Strategy],
    keywords: Mapping[str, object],
    params: Mapping[str, object] | None,
) -> tuple[dict[str, object], dict[str, object]]:
    """The engine options and the strategy parameters, each name given one meaning."""
    definitions = chosen_class.parameter_definitions()
    label = chosen_class.display_name()
    explicit = _checked_params(params, label, definitions)
    engine_options: dict[str, object] = {}
    parameters = dict(explicit)
    for name, value in keywords.items():
        in_config = name in CONFIG_FIELDS
        if in_config and name in definitions:
            raise InvalidInputError(
                f"{name!r} is both a BacktestConfig field and a {label} parameter "
                f"({definitions[name].description or 'no description'}); pass "
                f"params={{{name!r}: ...}} for the strategy or "
                f"config=BacktestConfig({name}=...) for the engine"
            )
        if in_config:
            engine_options[name] = value
        elif name in definitions:
            if name in explicit:
                raise InvalidInputError(
                    f"{label} parameter {name!r} is given twice, as {name}= and in params; "
                    "give it once"
                )
            parameters[name] = value
        else:
            raise UnknownNameError(
                f"{label} parameter or BacktestConfig field",
                name,
                [*definitions, *CONFIG_FIELDS, *LOADING_KEYWORDS, "params", "config"],
            )
    return engine_options, parameters


def _checked_params(
    params: Mapping[str, object] | None, label: str, definitions: Mapping[str, object]
) -> dict[str, object]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidInputError(
            f"params must be a dict of {label} parameters, got {type(params).__name__}; "
            "e.g. params={'fast': 10}"
        )
    for name in params:
        if name not in definitions and name in CONFIG_FIELDS:
            raise InvalidInputError(
                f"params holds {name!r}, which {label} does not take; it is a BacktestConfig "
                f"field, pass {name}=... as a keyword or in config="
            )
    return dict(params)


def _refuse_loading_clashes(chosen_class: type[Strategy], given: list[str]) -> None:
    definitions = chosen_class.parameter_definitions()
    for name in given:
        if name in definitions:
            raise InvalidInputError(
                f"{name!r} is both a loading keyword of quantdesk.backtest and a "
                f"{chosen_class.display_name()} parameter; {name}= chooses the bars, so pass "
                f"the parameter as params={{{name!r}: ...}}"
            )


def _engine_config(config: BacktestConfig | None, options: Mapping[str, object]) -> BacktestConfig:
    if config is None:
        return BacktestConfig(**options)
    if not isinstance(config, BacktestConfig):
        raise InvalidInputError(
            f"config must be a BacktestConfig, got {type(config).__name__}; "
            "build one with quantdesk.BacktestConfig(cash=..., commission=...)"
        )
    return config.model_copy(update=options) if options else config


def _strategy_with(
    strategy: str | type[Strategy] | Strategy, parameters: dict[str, object]
) -> Strategy:
    if isinstance(strategy, Strategy):
        return strategy.with_parameters(**parameters) if parameters else strategy
    return get_strategy(strategy, **parameters)


def request_bars(
    data: pd.DataFrame | str,
    *,
    timeframe: Timeframe | str | None,
    start: TimeLike | None,
    end: TimeLike | None,
    settings: Settings | None,
) -> tuple[pd.DataFrame, LoadResult | None]:
    """The bars, and how they were loaded when ``data`` is an address (None for a frame).

    A frame is checked (its time unit converted with a warning when that is all
    that differs); ``timeframe``, ``start`` and ``end`` are refused with one.
    """
    if isinstance(data, str):
        from quantdesk.data.loader import load_bars

        loaded = load_bars(data, timeframe=timeframe, start=start, end=end, settings=settings)
        return loaded.frame, loaded
    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(
            f"data must be an OHLCV DataFrame or an address such as 'sample:BTC/USDT', "
            f"got {type(data).__name__}"
        )
    if any(value is not None for value in (timeframe, start, end)):
        raise InvalidInputError(
            "timeframe, start and end apply to data given by address; slice the frame instead"
        )
    if is_canonical(data):
        return data, None
    # The engine's compiled scan checks a canonical frame's values, so a frame whose
    # time unit is all that differs needs only its index converted.
    converted = with_nanosecond_index(data)
    if converted is None:
        return validate_ohlcv(data), None
    warnings.warn(
        f"quantdesk.backtest converted the frame's {data.index.dtype} index to "
        "datetime64[ns, UTC] on this call; build the frame with unit='ns' (or pass "
        "quantdesk.validate_ohlcv(frame) once) to skip it on every call",
        DataRepairWarning,
        stacklevel=4,
    )
    return converted, None
