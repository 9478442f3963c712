"""The pandas layer over the kernel: check the input, run it, attach the index.

:func:`run_backtest` is the full path: it returns a :class:`BacktestResult`
with an equity curve, a trades table and statistics. Parameter sweeps over
long data should use the lean path instead: :func:`prepare_prices` once, then
:func:`simulate_equity` or :func:`final_equity` per combination, which build
no DataFrames and can reuse one equity buffer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from quantdesk.core.frame import OHLCV_COLUMNS, is_canonical, validate_ohlcv
from quantdesk.engine import kernel
from quantdesk.engine.config import BacktestConfig
from quantdesk.engine.result import (
    ENGINE_VERSION,
    BacktestResult,
    OpenPosition,
    _ResultInputs,
    trade_columns,
)
from quantdesk.engine.scans import prices_are_valid_nb
from quantdesk.engine.stats import Calendar, StatValue, bar_calendar, compute_statistics
from quantdesk.errors import InvalidInputError, NoTradesWarning
from quantdesk.strategies.signals import Signals

MINIMUM_BARS = 2
_NO_DISTANCES = np.empty(0, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class PreparedPrices:
    """A checked canonical frame as the contiguous float64 arrays the kernel reads.

    Build it with :func:`prepare_prices`; reuse it across many simulations.
    The arrays are read-only. Where they are views of the frame's columns, a
    shallow copy of the frame is kept with them: pandas then copies the
    frame's data before changing it, so later changes to the frame do not
    reach the prices.
    """

    index: pd.DatetimeIndex
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    _frame: pd.DataFrame | None = field(default=None, kw_only=True, repr=False)

    def __len__(self) -> int:
        return len(self.index)


@dataclass(frozen=True, eq=False)
class Simulation:
    """What one kernel run returns, as plain arrays.

    Attributes
    ----------
    equity
        Equity at each bar's close.
    trade_records
        One row per closed trade; columns named by the ``*_COLUMN`` constants
        of :mod:`quantdesk.engine.kernel`.
    open_size, open_entry_bar, open_entry_price, open_entry_commission
        The position still open at the end; size 0 and bar -1 when flat.
    cash
        Realised cash at the end.
    """

    equity: np.ndarray
    trade_records: np.ndarray
    open_size: float
    open_entry_bar: int
    open_entry_price: float
    open_entry_commission: float
    cash: float


def prepare_prices(frame: pd.DataFrame) -> PreparedPrices:
    """Check a canonical OHLCV frame once and keep its prices for the kernel.

    Parameters
    ----------
    frame
        A canonical frame (see :func:`quantdesk.core.frame.validate_ohlcv`)
        with at least two bars.

    Returns
    -------
    PreparedPrices
        The index and the prices as read-only contiguous float64 arrays:
        views of the frame's columns where those already are contiguous,
        copies otherwise.

    Raises
    ------
    InvalidInputError
        For a frame that is not canonical, has invalid values or has fewer
        than two bars.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"expected a pandas DataFrame of OHLCV bars, got {type(frame).__name__}"
        )
    if not is_canonical(frame):
        raise InvalidInputError(
            "the frame is not a canonical OHLCV frame (UTC index named 'time', float64 "
            "columns open, high, low, close, volume); pass it through "
            "quantdesk.validate_ohlcv(frame) first"
        )
    if len(frame) < MINIMUM_BARS:
        raise InvalidInputError(
            f"a backtest needs at least {MINIMUM_BARS} bars, the frame has {len(frame)}; "
            "load a longer range"
        )
    snapshot = frame.copy(deep=False)
    columns = {name: _read_only(snapshot[name].to_numpy()) for name in OHLCV_COLUMNS}
    if not prices_are_valid_nb(*(_kernel_array(values) for values in columns.values())):
        validate_ohlcv(frame)  # raises, naming the problem and where it is
    return PreparedPrices(
        # The frame's own index object, so that what pandas caches on it is shared.
        index=cast(pd.DatetimeIndex, frame.index),
        open=columns["open"],
        high=columns["high"],
        low=columns["low"],
        close=columns["close"],
        _frame=snapshot,
    )


def simulate(
    prices: PreparedPrices,
    signals: Signals,
    config: BacktestConfig | None = None,
    *,
    equity_out: np.ndarray | None = None,
) -> Simulation:
    """Run the kernel on prepared prices; no DataFrame is built.

    Parameters
    ----------
    prices
        From :func:`prepare_prices`.
    signals
        One value per bar; checked against the prices' index.
    config
        The trading rules; defaults to ``BacktestConfig()``.
    equity_out
        An optional float64 buffer of one value per bar to write the equity
        into, so a sweep allocates it once.

    Returns
    -------
    Simulation
        The equity array, the closed trades' records and the open position.
    """
    config = _checked_config(config)
    _check_signals(signals, prices.index)
    bar_count = len(prices)
    if equity_out is None:
        equity_out = np.empty(bar_count, dtype=np.float64)
    elif (
        not isinstance(equity_out, np.ndarray)
        or equity_out.dtype != np.float64
        or equity_out.shape != (bar_count,)
        or not equity_out.flags.c_contiguous
        or not equity_out.flags.writeable
    ):
        raise InvalidInputError(
            f"equity_out must be a writeable contiguous float64 array of {bar_count} values"
        )
    long_entries = _kernel_array(signals.long_entries)
    short_entries = _kernel_array(signals.short_entries)
    # As many trades as entry signals at most (count_entry_signals_nb's count,
    # which NumPy's vectorised count gives faster).
    capacity = int(np.count_nonzero(long_entries | short_entries))
    trade_records = np.empty((capacity, kernel.TRADE_RECORD_WIDTH), dtype=np.float64)
    account = kernel.simulate_nb(
        kernel.PriceArrays(
            open=_kernel_array(prices.open),
            high=_kernel_array(prices.high),
            low=_kernel_array(prices.low),
            close=_kernel_array(prices.close),
        ),
        kernel.SignalArrays(
            long_entries=long_entries,
            long_exits=_kernel_array(signals.long_exits),
            short_entries=short_entries,
            short_exits=_kernel_array(signals.short_exits),
            distances=kernel.ProtectiveDistances(
                stop=_distances(signals.stop_distances),
                target=_distances(signals.target_distances),
                trailing=_distances(signals.trailing_distances),
            ),
            maximum_bars_held=int(signals.maximum_bars_held or 0),
        ),
        trading_rules(config),
        equity_out,
        trade_records,
    )
    holding = account.position != 0.0
    return Simulation(
        equity=equity_out,
        trade_records=trade_records[: account.trade_count],
        open_size=float(account.position) if holding else 0.0,
        open_entry_bar=int(account.entry_bar) if holding else -1,
        open_entry_price=float(account.entry_price) if holding else math.nan,
        open_entry_commission=float(account.entry_commission) if holding else 0.0,
        cash=float(account.cash),
    )


def trading_rules(config: BacktestConfig) -> kernel.TradingRules:
    """The config's rules as the kernel reads them, each field of the type it is compiled for.

    Parameters
    ----------
    config
        A checked config.

    Returns
    -------
    quantdesk.engine.kernel.TradingRules
        Floats as Python floats, the sizing mode as its code and the margin as
        its leverage, so every config runs one compiled kernel.
    """
    return kernel.TradingRules(
        cash=float(config.cash),
        commission_rate=float(config.commission),
        fixed_fee=float(config.fixed_fee),
        slippage=float(config.slippage),
        lot_size=float(config.lot_size),
        sizing_code=kernel.SIZING_CODES[config.sizing],
        size_value=_fraction(config.size),
        leverage=1.0 / float(config.margin),
        stop_fraction=_fraction(config.stop_loss),
        target_fraction=_fraction(config.take_profit),
        trailing_fraction=_fraction(config.trailing_stop),
        trade_on_close=bool(config.trade_on_close),
        finalize_trades=bool(config.finalize_trades),
    )


def simulate_equity(
    prices: PreparedPrices,
    signals: Signals,
    config: BacktestConfig | None = None,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The equity at each close, and nothing else: the lean path for sweeps.

    Parameters
    ----------
    prices
        From :func:`prepare_prices`, made once for all combinations.
    signals
        One combination's signals.
    config
        The trading rules; defaults to ``BacktestConfig()``.
    out
        An optional float64 buffer of one value per bar, reused across calls.

    Returns
    -------
    numpy.ndarray
        The equity curve (``out`` itself when given).
    """
    return simulate(prices, signals, config, equity_out=out).equity


def final_equity(
    prices: PreparedPrices, signals: Signals, config: BacktestConfig | None = None
) -> float:
    """The equity at the last close.

    Parameters
    ----------
    prices
        From :func:`prepare_prices`.
    signals
        One combination's signals.
    config
        The trading rules; defaults to ``BacktestConfig()``.

    Returns
    -------
    float
        The final equity, an open position marked to the last close.
    """
    return float(simulate(prices, signals, config).equity[-1])


def simulation_statistics(
    prices: PreparedPrices,
    run: Simulation,
    config: BacktestConfig | None = None,
    *,
    calendar: Calendar | None = None,
) -> dict[str, StatValue]:
    """The statistics of one lean run, the values ``BacktestResult.stats`` would hold.

    Parameters
    ----------
    prices
        The prices the run was simulated on.
    run
        From :func:`simulate`; its equity may be a reused buffer, read here
        before the next run overwrites it.
    config
        The config the run used; defaults to ``BacktestConfig()``.
    calendar
        ``bar_calendar(prices.index)`` when the caller made it once for many
        runs; the statistics are the same with or without it.

    Returns
    -------
    dict
        The statistics in :data:`~quantdesk.engine.stats.STAT_KEYS` order.
    """
    config = _checked_config(config)
    holding = run.open_size != 0.0
    return compute_statistics(
        equity=run.equity,
        trades=trade_columns(run.trade_records),
        close=prices.close,
        initial_cash=config.cash,
        open_entry_bar=run.open_entry_bar if holding else None,
        open_commission=run.open_entry_commission if holding else 0.0,
        periods_per_year=config.periods_per_year,
        risk_free_rate=config.risk_free_rate,
        calendar=bar_calendar(prices.index) if calendar is None else calendar,
    )


def run_backtest(
    frame: pd.DataFrame,
    signals: Signals,
    config: BacktestConfig | None = None,
    *,
    parameters: Mapping[str, object] | None = None,
    strategy_name: str | None = None,
    data_address: str | None = None,
    timeframe: str | None = None,
) -> BacktestResult:
    """Backtest signals on OHLCV bars.

    Parameters
    ----------
    frame
        A canonical OHLCV frame with at least two bars.
    signals
        One value per bar, decided on each bar's close.
    config
        The trading rules; defaults to ``BacktestConfig()``.
    parameters
        The strategy parameters that produced the signals, kept with the result.
    strategy_name
        The strategy's name, kept with the result.
    data_address, timeframe
        Where the frame was loaded from (``SOURCE:SYMBOL``) and its
        timeframe, kept with the result.

    Returns
    -------
    BacktestResult
        Equity, drawdown, trades, the open position, statistics and what is
        needed to reproduce the run.

    Raises
    ------
    InvalidInputError
        For a non-canonical or too short frame, signals that do not fit it, or
        a config that is not a ``BacktestConfig``.
    """
    config = _checked_config(config)
    prices = prepare_prices(frame)
    run = simulate(prices, signals, config)
    if len(run.trade_records) == 0 and run.open_size == 0:
        _warn_when_no_lot_is_affordable(frame, signals, config)
    return BacktestResult(
        equity=pd.Series(run.equity, index=prices.index, name="equity", copy=False),
        open_position=_open_position(run, prices),
        config=config,
        close=frame["close"],
        parameters=dict(parameters or {}),
        strategy_name=strategy_name,
        engine_version=ENGINE_VERSION,
        data_address=data_address,
        timeframe=timeframe,
        _inputs=_ResultInputs(trade_records=run.trade_records, frame=frame.copy(deep=False)),
    )


def _warn_when_no_lot_is_affordable(
    frame: pd.DataFrame, signals: Signals, config: BacktestConfig
) -> None:
    """Say why a run with entry signals made no trade when one lot costs more than the cash."""
    entries = np.flatnonzero(np.asarray(signals.long_entries) | np.asarray(signals.short_entries))
    fill_bar = entries[0] + (0 if config.trade_on_close else 1) if len(entries) else len(frame)
    if fill_bar >= len(frame):
        return
    price = float(frame["close" if config.trade_on_close else "open"].iloc[fill_bar])
    buying_power = config.cash / config.margin
    if price * config.lot_size <= buying_power:
        return
    warnings.warn(
        f"{len(entries)} entry signal(s) but no trade: one lot of {config.lot_size:g} at "
        f"{price:,.2f} costs more than the {buying_power:,.0f} of buying power; pass a "
        "smaller lot_size (e.g. 1e-8 for crypto) or more cash",
        NoTradesWarning,
        stacklevel=3,
    )


def _checked_config(config: BacktestConfig | None) -> BacktestConfig:
    if config is None:
        return BacktestConfig()
    if not isinstance(config, BacktestConfig):
        raise InvalidInputError(
            f"config must be a BacktestConfig, got {type(config).__name__}; "
            "build one with BacktestConfig(cash=..., commission=...)"
        )
    return config


def _check_signals(signals: Signals, index: pd.Index) -> None:
    if not isinstance(signals, Signals):
        raise InvalidInputError(
            f"signals must be quantdesk.strategies.signals.Signals, got {type(signals).__name__}"
        )
    signals.check(index)


def _kernel_array(values: np.ndarray) -> np.ndarray:
    """The array as the kernel is compiled for it: C-contiguous and writeable.

    pandas hands out read-only views, and a read-only array would compile a
    second version of the kernel. The kernel never writes to its inputs, so
    a read-only view is passed as a writeable view of the same memory when
    the memory's owner allows it, and copied otherwise.
    """
    array = np.ascontiguousarray(values)
    if array.flags.writeable:
        return array
    view = array.view()
    try:
        view.flags.writeable = True
    except ValueError:
        return array.copy()
    return view


def _read_only(values: np.ndarray) -> np.ndarray:
    """A read-only view of the values over memory :func:`_kernel_array` can pass on.

    The memory is the frame's own where the column is contiguous float64 and
    its owner is writeable, else a copy made once here rather than at every
    simulation.
    """
    view = _kernel_array(np.asarray(values, dtype=np.float64)).view()
    view.flags.writeable = False
    return view


def _distances(values: np.ndarray | None) -> np.ndarray:
    return _NO_DISTANCES if values is None else _kernel_array(values)


def _fraction(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _open_position(run: Simulation, prices: PreparedPrices) -> OpenPosition | None:
    if run.open_size == 0.0:
        return None
    last_close = float(prices.close[-1])
    size = run.open_size
    entry_price = run.open_entry_price
    commission = run.open_entry_commission
    return OpenPosition(
        size=size,
        entry_bar=run.open_entry_bar,
        entry_time=prices.index[run.open_entry_bar],
        entry_price=entry_price,
        last_price=last_close,
        unrealized_pnl=size * (last_close - entry_price) - commission,
        return_pct=(
            math.copysign(1.0, size) * (last_close / entry_price - 1.0)
            - commission / (abs(size) * entry_price)
        )
        * 100.0,
        commission=commission,
    )
