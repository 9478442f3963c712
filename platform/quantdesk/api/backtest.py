"""``quantdesk.backtest``: run a strategy on data named by address or given as a frame."""

from __future__ import annotations

from typing import Any

import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.frame import is_canonical, validate_ohlcv
from quantdesk.core.time_range import TimeLike
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.loader import LoadResult, load_bars
from quantdesk.engine import BacktestConfig, BacktestResult, run_backtest
from quantdesk.errors import InvalidInputError
from quantdesk.strategies import Strategy, get_strategy

CONFIG_FIELDS = frozenset(BacktestConfig.model_fields)


def backtest(
    strategy: str | type[Strategy] | Strategy,
    data: pd.DataFrame | str,
    *,
    cash: float = 10_000.0,
    commission: float = 0.0,
    lot_size: float = 1.0,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> BacktestResult:
    """Backtest a strategy with backtesting.py's fill model.

    Parameters
    ----------
    strategy
        A registered name (``"sma_cross"``), a ``module:Class`` path, a
        ``Strategy`` class or an instance.
    data
        A canonical OHLCV frame, or a ``SOURCE:SYMBOL`` address loaded
        through the cache with ``timeframe``, ``start`` and ``end``.
    cash, commission, lot_size
        Starting cash, commission rate per side, and the smallest tradable
        quantity (1 for stocks, e.g. ``1e-8`` for crypto).
    timeframe, start, end
        Which bars to load when ``data`` is an address.
    settings
        quantdesk's settings, for loading by address; read from the
        environment when None.
    **options
        Other :class:`~quantdesk.engine.BacktestConfig` fields (``fixed_fee``,
        ``slippage``, ``sizing``, ``size``, ``trade_on_close``,
        ``finalize_trades``, ``stop_loss``, ``take_profit``, ``trailing_stop``,
        ``periods_per_year``, ``risk_free_rate``); every other keyword is a
        strategy parameter.

    Returns
    -------
    BacktestResult
        Equity, drawdown, trades, stats, and what is needed to reproduce them.

    Raises
    ------
    InvalidInputError
        For an unknown strategy or parameter, a bad setting, bad data, or data
        too short for the strategy; one line naming the fix.
    """
    config_options = {key: value for key, value in options.items() if key in CONFIG_FIELDS}
    parameters = {key: value for key, value in options.items() if key not in CONFIG_FIELDS}
    chosen = _strategy_with(strategy, parameters)
    config = BacktestConfig(cash=cash, commission=commission, lot_size=lot_size, **config_options)
    frame, loaded = _frame(data, timeframe=timeframe, start=start, end=end, settings=settings)
    return run_backtest(
        frame,
        chosen.signals(frame),
        config,
        parameters=chosen.parameters,
        strategy_name=chosen.name,
        data_address=None if loaded is None else str(loaded.address),
        timeframe=None if loaded is None else str(loaded.timeframe),
    )


def _strategy_with(
    strategy: str | type[Strategy] | Strategy, parameters: dict[str, Any]
) -> Strategy:
    if isinstance(strategy, Strategy):
        return strategy.with_parameters(**parameters) if parameters else strategy
    return get_strategy(strategy, **parameters)


def _frame(
    data: pd.DataFrame | str,
    *,
    timeframe: Timeframe | str | None,
    start: TimeLike | None,
    end: TimeLike | None,
    settings: Settings | None,
) -> tuple[pd.DataFrame, LoadResult | None]:
    """The bars, and how they were loaded when ``data`` is an address."""
    if isinstance(data, str):
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
    return (data if is_canonical(data) else validate_ohlcv(data)), None
