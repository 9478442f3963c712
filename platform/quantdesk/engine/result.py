"""What a backtest returns: equity, drawdown, trades, statistics and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quantdesk.engine.config import BacktestConfig
from quantdesk.engine.stats import StatValue

ENGINE_VERSION = "1"
"""Changes whenever the engine's results for the same input may change."""

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
class BacktestResult:
    """One backtest's outcome; treat it, and the frames in it, as read-only.

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
        ``take_profit``, ``trailing_stop``, ``time`` or ``end``.
    open_position
        The position still open after the last bar, or None.
    stats
        The statistics of :mod:`quantdesk.engine.stats`, keyed by
        :data:`~quantdesk.engine.stats.STAT_KEYS`.
    config
        The trading rules used.
    close
        The frame's closes, for plotting.
    parameters
        The strategy parameters that produced the signals.
    strategy_name
        The strategy's name, if given.
    data_fingerprint
        A hash of the frame's times and values (see
        :func:`quantdesk.engine.runner.data_fingerprint`).
    engine_version
        :data:`ENGINE_VERSION` of the engine that ran it.
    """

    equity: pd.Series
    drawdown: pd.Series
    trades: pd.DataFrame
    open_position: OpenPosition | None
    stats: dict[str, StatValue]
    config: BacktestConfig
    close: pd.Series
    parameters: dict[str, object] = field(default_factory=dict)
    strategy_name: str | None = None
    data_fingerprint: str = ""
    engine_version: str = ENGINE_VERSION

    def __repr__(self) -> str:
        name = self.strategy_name or "signals"
        return (
            f"BacktestResult({name}, {len(self.equity)} bars, {self.stats['n_trades']} trades, "
            f"final_equity={self.stats['final_equity']:.2f}, "
            f"total_return_pct={self.stats['total_return_pct']:.2f})"
        )

    def plot(self, *, width: int = 900) -> Any:
        """Price with trade markers, equity and drawdown, one panel each.

        Long series are thinned to about four thousand points per panel,
        keeping each stretch's highest and lowest value. Needs holoviews (and
        its bokeh backend to display).

        Parameters
        ----------
        width
            Width of each panel in pixels.

        Returns
        -------
        holoviews.Layout
            Three panels in one column: price, equity, drawdown (percent).
        """
        from quantdesk.engine.plotting import plot_result

        return plot_result(self, width=width)
