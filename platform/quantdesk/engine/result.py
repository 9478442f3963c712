"""What a backtest returns: equity, drawdown, trades, statistics and provenance."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Self

import numpy as np
import pandas as pd

from quantdesk.core.frame import OHLCV_COLUMNS, epoch_nanoseconds
from quantdesk.engine import kernel
from quantdesk.engine.config import BacktestConfig
from quantdesk.engine.stats import (
    StatValue,
    compute_statistics,
    drawdown_fraction,
    statistics_series,
)
from quantdesk.errors import ConfigurationError, InvalidInputError, UnknownNameError

ENGINE_VERSION = "2"
"""Changes whenever the engine's results for the same input may change.

Version 2: a ruined position is liquidated inside the bar that reaches its
ruin price (exit reason ``liquidation``) instead of at a close (``end``), and
``margin`` leverages entries.
"""

RESULT_STORES_GROUP = "quantdesk.result_stores"
"""The entry-point group of the functions :meth:`BacktestResult.save` hands a result to."""

DEFAULT_RESULT_STORE = "postgres"
"""The store :meth:`BacktestResult.save` uses unless told: quantdesk's database."""

RESULT_PLOTTERS_GROUP = "quantdesk.result_plotters"
"""The entry-point group of the functions :meth:`BacktestResult.plot` draws a result with."""

DEFAULT_RESULT_PLOTTER = "holoviews"
"""The plotter :meth:`BacktestResult.plot` uses unless told: :mod:`quantdesk.charts`."""

TRADE_COLUMNS: tuple[str, ...] = (
    "size",
    "entry_bar",
    "exit_bar",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "pnl",
    "return_pct",
    "commission",
    "exit_reason",
)
"""The columns of ``BacktestResult.trades``, in order."""


@dataclass(frozen=True)
class OpenPosition:
    """A position still open after the last bar, marked to the last close.

    Attributes
    ----------
    size
        Units held; negative for a short.
    entry_bar, entry_time, entry_price
        Where and at what fill price it was entered.
    last_price
        The last close, at which it is marked.
    unrealized_pnl
        Profit at the last close, less the entry commission.
    return_pct
        That profit relative to the entry value, in percent.
    commission
        The entry commission and fee paid.
    """

    size: float
    entry_bar: int
    entry_time: pd.Timestamp
    entry_price: float
    last_price: float
    unrealized_pnl: float
    return_pct: float
    commission: float


@dataclass(frozen=True, eq=False)
class _ResultInputs:
    """What a result computes its trades, statistics and fingerprint from, on demand.

    Attributes
    ----------
    trade_records
        The kernel's closed-trade records (see :mod:`quantdesk.engine.kernel`).
    frame
        The bars, as a shallow copy: pandas copies on write, so later changes
        to the caller's frame do not reach it.
    """

    trade_records: np.ndarray
    frame: pd.DataFrame


_COMPUTED_ON_DEMAND = ("trades", "drawdown", "stats", "data_fingerprint")


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """One backtest's outcome; treat it, and the frames in it, as read-only.

    ``trades``, ``drawdown``, ``stats`` and ``data_fingerprint`` are computed
    on first access and kept; a pickled result carries them all.

    Attributes
    ----------
    equity
        Equity at each bar's close (cash plus the open position marked to the
        close), on the frame's index.
    drawdown
        ``equity / running peak - 1`` at each bar, a fraction at or below
        zero; the starting cash is the first peak.
    trades
        Closed trades, one row each, columns :data:`TRADE_COLUMNS`: ``size``
        (negative for shorts), ``entry_bar``/``exit_bar`` (positions in the
        frame), ``entry_time``/``exit_time``, fill prices with slippage,
        ``pnl`` in cash after commissions, ``return_pct`` (percent of entry
        value, after commissions), ``commission`` (entry and exit) and
        ``exit_reason``, one of ``signal``, ``reversal``, ``stop_loss``,
        ``take_profit``, ``trailing_stop``, ``time``, ``end`` or ``liquidation``.
    open_position
        The position still open after the last bar, or None.
    stats
        The statistics of :mod:`quantdesk.engine.stats`, a Series of object
        dtype indexed by :data:`~quantdesk.engine.stats.STAT_KEYS` in order;
        it reads like a dict (``stats["sharpe"]``, ``stats.get``,
        ``stats.items()``, ``"sharpe" in stats``, ``dict(stats)``).
    config
        The trading rules used.
    close
        The frame's closes, for plotting.
    parameters
        The strategy parameters that produced the signals.
    strategy_name
        The strategy's name, if given.
    data_address, timeframe
        Where the bars came from (``SOURCE:SYMBOL``) and their timeframe,
        when they were loaded by address; None for a frame passed in.
    data_fingerprint
        A hash of the frame's times and values (see :func:`data_fingerprint`).
    engine_version
        :data:`ENGINE_VERSION` of the engine that ran it.
    """

    equity: pd.Series
    open_position: OpenPosition | None
    config: BacktestConfig
    close: pd.Series
    parameters: dict[str, object] = field(default_factory=dict)
    strategy_name: str | None = None
    engine_version: str = ENGINE_VERSION
    data_address: str | None = None
    timeframe: str | None = None
    _inputs: _ResultInputs = field(kw_only=True, repr=False)

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Closed trades, one row each; see the class docstring."""
        return _trades_frame(self._inputs.trade_records, pd.DatetimeIndex(self.equity.index))

    @cached_property
    def drawdown(self) -> pd.Series:
        """Drawdown at each bar, a fraction at or below zero."""
        values = drawdown_fraction(self.equity.to_numpy(), self.config.cash)
        return pd.Series(values, index=self.equity.index, name="drawdown", copy=False)

    @cached_property
    def stats(self) -> pd.Series:
        """The statistics, indexed by :data:`~quantdesk.engine.stats.STAT_KEYS`."""
        position = self.open_position
        computed = compute_statistics(
            equity=self.equity,
            trades=self.trades,
            close=self.close.to_numpy(),
            initial_cash=self.config.cash,
            open_entry_bar=None if position is None else position.entry_bar,
            open_commission=0.0 if position is None else position.commission,
            periods_per_year=self.config.periods_per_year,
            risk_free_rate=self.config.risk_free_rate,
        )
        return statistics_series(computed)

    @cached_property
    def data_fingerprint(self) -> str:
        """A hash of the frame's times and values."""
        return data_fingerprint(self._inputs.frame)

    @classmethod
    def from_saved(
        cls,
        *,
        equity: pd.Series,
        trades: pd.DataFrame,
        stats: Mapping[str, StatValue],
        open_position: OpenPosition | None,
        config: BacktestConfig,
        close: pd.Series,
        parameters: Mapping[str, object],
        strategy_name: str | None,
        engine_version: str,
        data_address: str | None,
        timeframe: str | None,
        data_fingerprint: str,
        **subclass_fields: object,
    ) -> Self:
        """A result rebuilt from what was kept of it, without running anything again.

        Parameters
        ----------
        equity, trades, open_position, config, parameters, strategy_name
            As the result had them.
        stats
            Its statistics, in :data:`~quantdesk.engine.stats.STAT_KEYS` order.
        close
            The bars' closes, on the equity's index.
        engine_version, data_address, timeframe, data_fingerprint
            Its provenance.
        **subclass_fields
            The fields a subclass adds (:class:`~quantdesk.store.runs.SavedRun`'s
            ``run_info``).

        Returns
        -------
        BacktestResult
            A result of this class whose ``drawdown`` is computed from the
            equity and whose other attributes are the parts given.

        Raises
        ------
        InvalidInputError
            If ``close`` is not on the equity's index, or a subclass field is unknown.
        """
        unknown = set(subclass_fields).difference(known.name for known in fields(cls))
        if unknown:
            raise InvalidInputError(
                f"{cls.__name__} has no fields {sorted(unknown)}; pass only its own fields"
            )
        if not close.index.equals(equity.index):
            raise InvalidInputError(
                "the closes and the equity of a result must share one index; "
                "pass the closes of the bars the equity was computed on"
            )
        result = object.__new__(cls)
        # What __init__ would set, and what is otherwise computed on first
        # access from inputs a rebuilt result does not have (as after pickling).
        result.__dict__.update(
            equity=equity,
            open_position=open_position,
            config=config,
            parameters=dict(parameters),
            strategy_name=strategy_name,
            engine_version=engine_version,
            data_address=data_address,
            timeframe=timeframe,
            trades=trades,
            stats=statistics_series(stats),
            close=close,
            data_fingerprint=data_fingerprint,
            **subclass_fields,
        )
        return result

    def __getstate__(self) -> dict[str, Any]:
        """Pickle what is computed on demand instead of what it is computed from."""
        for name in _COMPUTED_ON_DEMAND:
            getattr(self, name)
        return {name: value for name, value in self.__dict__.items() if name != "_inputs"}

    def __repr__(self) -> str:
        name = self.strategy_name or "signals"
        return (
            f"BacktestResult({name}, {len(self.equity)} bars, {self.stats['n_trades']} trades, "
            f"final_equity={self.stats['final_equity']:.2f}, "
            f"total_return_pct={self.stats['total_return_pct']:.2f})"
        )

    def save(self, *, store: str = DEFAULT_RESULT_STORE, **options: Any) -> Any:
        """Save this result with an installed result store, by default quantdesk's database.

        Stores register in the entry-point group :data:`RESULT_STORES_GROUP`;
        quantdesk's own, ``postgres``, is
        :func:`quantdesk.store.runs.save_run`.

        Parameters
        ----------
        store
            The store's entry-point name.
        **options
            Passed to the store; for ``postgres``: ``name`` (a label for the
            run) and ``settings``.

        Returns
        -------
        Any
            What the store returns; ``postgres`` returns a
            :class:`~quantdesk.store.runs.RunInfo` with the run's id.

        Raises
        ------
        ConfigurationError
            If no result store is installed.
        UnknownNameError
            If none is installed under the name ``store``.
        """
        return _installed(RESULT_STORES_GROUP, "result store", store)(self, **options)

    def plot(self, *, width: int = 900, plotter: str = DEFAULT_RESULT_PLOTTER) -> Any:
        """Price with trade markers, equity and drawdown, one panel each.

        Long series are thinned to about four thousand points per panel,
        keeping each stretch's highest and lowest value. Needs holoviews (and
        its bokeh backend to display).

        Plotters register in the entry-point group :data:`RESULT_PLOTTERS_GROUP`,
        so the engine imports no UI package; quantdesk's own, ``holoviews``, is
        :func:`quantdesk.charts.backtest.plot_result`.

        Parameters
        ----------
        width
            Width of each panel in pixels.
        plotter
            The plotter's entry-point name.

        Returns
        -------
        holoviews.Layout
            Three panels in one column: price, equity, drawdown (percent).

        Raises
        ------
        ConfigurationError
            If no plotter is installed.
        UnknownNameError
            If none is installed under the name ``plotter``.
        """
        return _installed(RESULT_PLOTTERS_GROUP, "result plotter", plotter)(self, width=width)


def _installed(group: str, kind: str, name: str) -> Any:
    """The function registered as ``name`` in the entry-point ``group``, loaded."""
    from importlib.metadata import entry_points

    installed = {point.name: point for point in entry_points(group=group)}
    if not installed:
        raise ConfigurationError(
            f"no {kind} is installed (entry-point group {group!r}); "
            "reinstall quantdesk with 'pip install quantdesk' or 'bash .ci/bootstrap'"
        )
    if name not in installed:
        raise UnknownNameError(kind, name, installed)
    return installed[name].load()


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A stable hash of a canonical frame's times and values.

    Parameters
    ----------
    frame
        A canonical OHLCV frame.

    Returns
    -------
    str
        32 hex digits of BLAKE2b over the index's epoch nanoseconds and each
        column's float64 bytes, in the canonical column order.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(epoch_nanoseconds(frame), dtype="<i8").data)
    for column in OHLCV_COLUMNS:
        digest.update(column.encode())
        digest.update(np.ascontiguousarray(frame[column].to_numpy(), dtype="<f8").data)
    return digest.hexdigest()


def trade_columns(records: np.ndarray) -> dict[str, np.ndarray]:
    """The numeric trade columns of the kernel's trade records, as arrays.

    Parameters
    ----------
    records
        The kernel's closed-trade records.

    Returns
    -------
    dict
        ``size``, ``entry_bar``, ``exit_bar``, ``entry_price``,
        ``exit_price``, ``pnl``, ``return_pct`` and ``commission``, as
        :attr:`BacktestResult.trades` holds them.
    """
    sizes = records[:, kernel.SIZE_COLUMN]
    entry_prices = records[:, kernel.ENTRY_PRICE_COLUMN]
    exit_prices = records[:, kernel.EXIT_PRICE_COLUMN]
    commissions = records[:, kernel.COMMISSION_COLUMN]
    pnl = sizes * (exit_prices - entry_prices) - commissions
    return_fraction = np.sign(sizes) * (exit_prices / entry_prices - 1.0) - commissions / (
        np.abs(sizes) * entry_prices
    )
    return {
        "size": sizes,
        "entry_bar": records[:, kernel.ENTRY_BAR_COLUMN].astype(np.int64),
        "exit_bar": records[:, kernel.EXIT_BAR_COLUMN].astype(np.int64),
        "entry_price": entry_prices,
        "exit_price": exit_prices,
        "pnl": pnl,
        "return_pct": return_fraction * 100.0,
        "commission": commissions,
    }


def _trades_frame(records: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    """The trades table of :data:`TRADE_COLUMNS` for the kernel's trade records."""
    columns = trade_columns(records)
    reasons = pd.Categorical.from_codes(
        records[:, kernel.EXIT_REASON_COLUMN].astype(np.int64),
        categories=pd.Index(kernel.EXIT_REASONS),
    )
    return pd.DataFrame(
        {
            "size": columns["size"],
            "entry_bar": columns["entry_bar"],
            "exit_bar": columns["exit_bar"],
            "entry_time": index[columns["entry_bar"]],
            "exit_time": index[columns["exit_bar"]],
            "entry_price": columns["entry_price"],
            "exit_price": columns["exit_price"],
            "pnl": columns["pnl"],
            "return_pct": columns["return_pct"],
            "commission": columns["commission"],
            "exit_reason": reasons,
        },
        # The columns are new arrays or views of the records, which nothing
        # else writes to; consolidating them would copy every one.
        copy=False,
    )
