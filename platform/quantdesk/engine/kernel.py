"""The compiled simulation: one pass over plain arrays, no pandas.

Everything here is a numba ``@njit(cache=True)`` function named ``*_nb`` that
takes ndarrays and scalars. The pandas layer in :mod:`quantdesk.engine.runner`
validates the input, prepares the arrays and attaches the index to what comes
back.

The fill model, bar by bar (``i`` is the bar):

1. Without ``trade_on_close``: orders decided on bar ``i - 1``'s close fill at
   bar ``i``'s open, exits before entries, so a reversal closes first and sizes
   the new position on the equity left after closing.
2. The position's protective exits are checked against bar ``i``'s range:
   stop-loss and trailing stop (whichever level is nearer the price, the
   stop-loss on a tie), then take-profit. A bar that opens beyond a level fills
   at the open. When a stop and the target both lie inside one bar's range the
   stop is assumed to have come first, the pessimistic reading backtesting.py
   also takes. A trailing stop trails the best price seen before the bar's
   high and low are known: the entry, earlier highs (lows for a short) and
   this bar's open.
3. Signals of bar ``i`` are turned into orders (the rules in
   :mod:`quantdesk.strategies.signals`; a time exit counts bars from the
   entry bar to the fill bar). With ``trade_on_close`` they fill at bar
   ``i``'s close at once; otherwise they wait for bar ``i + 1``'s open.
   Orders decided on the last bar never fill, as in backtesting.py.
4. Equity is marked at bar ``i``'s close: realised cash plus the open
   position's profit at that close. On the last bar ``finalize_trades``
   closes an open position at the close. Equity at or below zero closes the
   position at that close and ends the trading (backtesting.py instead sets
   equity to 0 from there on).

Prices and costs: market fills (signal orders, stop-loss, trailing stop,
time and end exits) are worse than the quoted price by ``slippage``, at entry
and at exit; a take-profit is a limit and fills at its level, or at a better
open. Commission is ``rate * |size| * fill price`` plus ``fixed_fee``, at
entry and again at exit. An entry is sized at its fill price on the equity it
has (entries only happen flat); one that cannot be afforded is skipped whole.

Cash here is realised equity, as in backtesting.py: entry commissions are
paid from it at entry, and a closed trade adds its gross profit minus the exit
commission. The arithmetic follows backtesting.py's order of operations, so
sizes computed from it agree with that library to the last unit.

Where backtesting.py differs, on purpose: its ``spread`` worsens entries
only, where ``slippage`` worsens exits too; it sizes an all-in entry as if a
fixed fee were charged per unit, where here the fee is taken off the budget
once; ``finalize_trades`` closes at the last bar's open there and at its
close here; with ``trade_on_close`` it records a bar's equity before that
bar's fills, here after them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NO_ORDER = -1
SIGNAL_EXIT = 0
REVERSAL_EXIT = 1
STOP_LOSS_EXIT = 2
TAKE_PROFIT_EXIT = 3
TRAILING_STOP_EXIT = 4
TIME_EXIT = 5
END_EXIT = 6
EXIT_REASONS: tuple[str, ...] = (
    "signal",
    "reversal",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "time",
    "end",
)

ENTRY_BAR_COLUMN = 0
EXIT_BAR_COLUMN = 1
SIZE_COLUMN = 2
ENTRY_PRICE_COLUMN = 3
EXIT_PRICE_COLUMN = 4
COMMISSION_COLUMN = 5
EXIT_REASON_COLUMN = 6
TRADE_RECORD_WIDTH = 7
"""A trade record is one float64 row: the ``*_COLUMN`` constants name its fields."""

ALL_IN_SIZING = 0
UNITS_SIZING = 1
CASH_SIZING = 2
EQUITY_FRACTION_SIZING = 3
SIZING_CODES: dict[str, int] = {
    "all_in": ALL_IN_SIZING,
    "units": UNITS_SIZING,
    "cash": CASH_SIZING,
    "equity_fraction": EQUITY_FRACTION_SIZING,
}

FULL_EQUITY_FRACTION = 1.0 - float(np.finfo(np.float64).eps)
"""The share of equity an all-in entry may spend; backtesting.py's ``1 - eps``."""


@njit(cache=True)
def entry_units_nb(
    available: float,
    fill_price: float,
    commission_rate: float,
    fixed_fee: float,
    lot_size: float,
    sizing_code: int,
    size_value: float,
) -> float:
    """Units an entry buys or sells, or 0 when it cannot be afforded.

    Parameters
    ----------
    available
        Equity available to the entry (the whole equity: entries happen flat).
    fill_price
        The entry's fill price, slippage included.
    commission_rate, fixed_fee, lot_size
        As in ``BacktestConfig``.
    sizing_code
        One of the ``*_SIZING`` constants.
    size_value
        The ``size`` of the non-default sizing modes.

    Returns
    -------
    float
        A whole number of lots times ``lot_size``, never more than
        ``available`` pays for with commission and fee; 0 to skip the order.
    """
    if available <= 0.0:
        return 0.0
    if sizing_code == UNITS_SIZING:
        units = float(np.floor(size_value / lot_size)) * lot_size
        cost = units * fill_price + (fixed_fee + (units * fill_price) * commission_rate)
        return units if units > 0.0 and cost <= available else 0.0
    if sizing_code == CASH_SIZING:
        if size_value > available:
            return 0.0
        fraction = 1.0
        budget = size_value
    elif sizing_code == EQUITY_FRACTION_SIZING:
        fraction = size_value
        budget = available * size_value
    else:
        fraction = FULL_EQUITY_FRACTION
        budget = available * FULL_EQUITY_FRACTION
    # The largest whole number of lots the budget pays for, fee and commission
    # included. backtesting.py spreads the commission of a fractional order
    # over its fraction; the same operations keep sizes identical to its own.
    unit_cost = fill_price + ((fraction * fill_price) * commission_rate) / fraction
    units = ((budget - fixed_fee) // (unit_cost * lot_size)) * lot_size
    return units if units > 0.0 else 0.0


@njit(cache=True)
def count_entry_signals_nb(long_entries: np.ndarray, short_entries: np.ndarray) -> int:
    """How many trades the signals can open at most: the number of entry signals.

    Parameters
    ----------
    long_entries, short_entries
        The boolean entry arrays.

    Returns
    -------
    int
        The count, the capacity trade buffers need.
    """
    count = 0
    for i in range(long_entries.shape[0]):
        if long_entries[i] or short_entries[i]:
            count += 1
    return count


@njit(cache=True, inline="always")
def _record_exit_nb(
    trade_records: np.ndarray,
    trade_count: int,
    entry_bar: int,
    exit_bar: int,
    position: float,
    entry_price: float,
    exit_price: float,
    entry_commission: float,
    commission_rate: float,
    fixed_fee: float,
    reason: int,
) -> float:
    """Write one closed trade and return what it adds to cash (gross profit less exit fee)."""
    exit_commission = fixed_fee + (abs(position) * exit_price) * commission_rate
    record = trade_records[trade_count]
    record[ENTRY_BAR_COLUMN] = entry_bar
    record[EXIT_BAR_COLUMN] = exit_bar
    record[SIZE_COLUMN] = position
    record[ENTRY_PRICE_COLUMN] = entry_price
    record[EXIT_PRICE_COLUMN] = exit_price
    record[COMMISSION_COLUMN] = entry_commission + exit_commission
    record[EXIT_REASON_COLUMN] = reason
    return position * (exit_price - entry_price) - exit_commission


@njit(cache=True, inline="always")
def _protective_distance_nb(
    distances: np.ndarray, signal_bar: int, fraction: float, entry_price: float
) -> float:
    """A stop, target or trail distance: the signal bar's own when finite, else the config's.

    A NaN distance means the strategy sets none, so the config's fraction of
    the entry price applies (NaN too when the config sets none).
    """
    if distances.shape[0] > 0:
        distance = float(distances[signal_bar])
        if not np.isnan(distance):
            return distance
    return fraction * entry_price


@njit(cache=True, inline="always")
def _held_too_long_nb(
    maximum_bars_held: int, decision_bar: int, entry_bar: int, trade_on_close: bool
) -> bool:
    """Whether an exit decided now fills ``maximum_bars_held`` bars after the entry bar."""
    if maximum_bars_held <= 0:
        return False
    fill_bar = decision_bar if trade_on_close else decision_bar + 1
    return fill_bar - entry_bar >= maximum_bars_held


@njit(cache=True, inline="always")
def _fill_orders_nb(
    base_price: float,
    bar: int,
    signal_bar: int,
    close_reason: int,
    open_side: int,
    position: float,
    entry_bar: int,
    entry_price: float,
    entry_commission: float,
    stop_level: float,
    target_level: float,
    trailing_distance: float,
    best_price: float,
    cash: float,
    trade_count: int,
    trade_records: np.ndarray,
    stop_distances: np.ndarray,
    target_distances: np.ndarray,
    trailing_distances: np.ndarray,
    stop_fraction: float,
    target_fraction: float,
    trailing_fraction: float,
    commission_rate: float,
    fixed_fee: float,
    slippage: float,
    lot_size: float,
    sizing_code: int,
    size_value: float,
) -> tuple[float, int, float, float, float, float, float, float, float, int]:
    """Fill one bar's orders at one price: close the position first, then open the new one.

    The parameters not described here are those of :func:`simulate_nb`.

    Parameters
    ----------
    base_price
        The quoted price of both fills before slippage: the bar's open, or its
        close with ``trade_on_close``.
    bar
        The fill bar, the closed trade's exit bar and the new entry bar.
    signal_bar
        The bar whose signals decided the orders; the new position takes its
        stop, target and trail distances.
    close_reason, open_side
        The orders: an exit reason or ``NO_ORDER``, and 1, -1 or 0.
    position, entry_bar, entry_price, entry_commission
        The position before the fills (size 0 when flat) and its entry.
    stop_level, target_level, trailing_distance, best_price
        Its protective levels and the best price seen since entry.
    cash, trade_count
        Realised cash and the number of trade records written.

    Returns
    -------
    tuple
        The state after the fills, in the order of the parameters from
        ``position`` to ``trade_count``.
    """
    if close_reason != NO_ORDER and position != 0.0:
        side = 1.0 if position > 0.0 else -1.0
        fill = base_price * (1.0 - side * slippage)
        cash = cash + _record_exit_nb(
            trade_records,
            trade_count,
            entry_bar,
            bar,
            position,
            entry_price,
            fill,
            entry_commission,
            commission_rate,
            fixed_fee,
            close_reason,
        )
        trade_count += 1
        position = 0.0
    if open_side != 0 and position == 0.0:
        side = float(open_side)
        fill = base_price * (1.0 + side * slippage)
        units = entry_units_nb(
            cash, fill, commission_rate, fixed_fee, lot_size, sizing_code, size_value
        )
        if units > 0.0:
            entry_commission = fixed_fee + (units * fill) * commission_rate
            cash = cash - entry_commission
            position = side * units
            entry_bar = bar
            entry_price = fill
            stop_level = fill - side * _protective_distance_nb(
                stop_distances, signal_bar, stop_fraction, fill
            )
            target_level = fill + side * _protective_distance_nb(
                target_distances, signal_bar, target_fraction, fill
            )
            trailing_distance = _protective_distance_nb(
                trailing_distances, signal_bar, trailing_fraction, fill
            )
            best_price = fill
    return (
        position,
        entry_bar,
        entry_price,
        entry_commission,
        stop_level,
        target_level,
        trailing_distance,
        best_price,
        cash,
        trade_count,
    )


@njit(cache=True)
def simulate_nb(
    open_prices: np.ndarray,
    high_prices: np.ndarray,
    low_prices: np.ndarray,
    close_prices: np.ndarray,
    long_entries: np.ndarray,
    long_exits: np.ndarray,
    short_entries: np.ndarray,
    short_exits: np.ndarray,
    stop_distances: np.ndarray,
    target_distances: np.ndarray,
    trailing_distances: np.ndarray,
    stop_fraction: float,
    target_fraction: float,
    trailing_fraction: float,
    maximum_bars_held: int,
    cash: float,
    commission_rate: float,
    fixed_fee: float,
    slippage: float,
    lot_size: float,
    sizing_code: int,
    size_value: float,
    trade_on_close: bool,
    finalize_trades: bool,
    equity_out: np.ndarray,
    trade_records: np.ndarray,
) -> tuple[int, float, int, float, float, float]:
    """Simulate one backtest over plain arrays.

    Parameters
    ----------
    open_prices, high_prices, low_prices, close_prices
        float64 prices, one per bar.
    long_entries, long_exits, short_entries, short_exits
        bool signals, one per bar, decided on that bar's close.
    stop_distances, target_distances, trailing_distances
        float64 price distances per bar, read on the entry signal's bar, or
        empty arrays; where a distance is NaN or missing the matching
        fraction applies instead.
    stop_fraction, target_fraction, trailing_fraction
        Fractions of the entry fill price for every position; NaN for none.
    maximum_bars_held
        Close a position this many bars after its entry bar; 0 for never.
    cash, commission_rate, fixed_fee, slippage, lot_size
        As in ``BacktestConfig``.
    sizing_code, size_value
        The sizing mode (a ``*_SIZING`` constant) and its ``size``.
    trade_on_close, finalize_trades
        As in ``BacktestConfig``.
    equity_out
        float64, one per bar; receives the equity at each close.
    trade_records
        float64 of shape ``(capacity, TRADE_RECORD_WIDTH)`` with capacity at
        least :func:`count_entry_signals_nb`; closed trades are written in
        order, one row each (see the ``*_COLUMN`` constants). Sizes are
        negative for shorts; commissions cover entry and exit.

    Returns
    -------
    tuple
        ``(closed_trades, open_size, open_entry_bar, open_entry_price,
        open_entry_commission, cash)``: how many rows were written, the
        position still open at the end (size 0 and bar -1 when flat) and the
        realised cash.
    """
    bar_count = close_prices.shape[0]
    trade_count = 0
    position = 0.0
    entry_bar = -1
    entry_price = np.nan
    entry_commission = 0.0
    stop_level = np.nan
    target_level = np.nan
    trailing_distance = np.nan
    best_price = np.nan
    trading = True
    pending_close_reason = NO_ORDER
    pending_open_side = 0
    pending_signal_bar = -1

    for i in range(bar_count):
        # 1. Orders decided on the previous close fill at this bar's open, exit first.
        if pending_close_reason != NO_ORDER or pending_open_side != 0:
            (
                position,
                entry_bar,
                entry_price,
                entry_commission,
                stop_level,
                target_level,
                trailing_distance,
                best_price,
                cash,
                trade_count,
            ) = _fill_orders_nb(
                open_prices[i],
                i,
                pending_signal_bar,
                pending_close_reason,
                pending_open_side,
                position,
                entry_bar,
                entry_price,
                entry_commission,
                stop_level,
                target_level,
                trailing_distance,
                best_price,
                cash,
                trade_count,
                trade_records,
                stop_distances,
                target_distances,
                trailing_distances,
                stop_fraction,
                target_fraction,
                trailing_fraction,
                commission_rate,
                fixed_fee,
                slippage,
                lot_size,
                sizing_code,
                size_value,
            )
        pending_close_reason = NO_ORDER
        pending_open_side = 0

        # 2. Protective exits inside this bar's range.
        if position != 0.0:
            side = 1.0 if position > 0.0 else -1.0
            bar_open = open_prices[i]
            best_price = max(best_price, bar_open) if side > 0.0 else min(best_price, bar_open)
            trailing_level = best_price - side * trailing_distance
            # Of stop-loss and trailing stop, the level nearer the price is reached first.
            protective_level = stop_level
            protective_reason = STOP_LOSS_EXIT
            if not np.isnan(trailing_level) and (
                np.isnan(stop_level) or side * (trailing_level - stop_level) > 0.0
            ):
                protective_level = trailing_level
                protective_reason = TRAILING_STOP_EXIT
            exit_price = np.nan
            exit_reason = NO_ORDER
            if side > 0.0:
                if low_prices[i] <= protective_level:
                    exit_price = min(bar_open, protective_level) * (1.0 - slippage)
                    exit_reason = protective_reason
                elif high_prices[i] >= target_level:
                    exit_price = max(bar_open, target_level)
                    exit_reason = TAKE_PROFIT_EXIT
                else:
                    best_price = max(best_price, high_prices[i])
            else:
                if high_prices[i] >= protective_level:
                    exit_price = max(bar_open, protective_level) * (1.0 + slippage)
                    exit_reason = protective_reason
                elif low_prices[i] <= target_level:
                    exit_price = min(bar_open, target_level)
                    exit_reason = TAKE_PROFIT_EXIT
                else:
                    best_price = min(best_price, low_prices[i])
            if exit_reason != NO_ORDER:
                cash = cash + _record_exit_nb(
                    trade_records,
                    trade_count,
                    entry_bar,
                    i,
                    position,
                    entry_price,
                    exit_price,
                    entry_commission,
                    commission_rate,
                    fixed_fee,
                    exit_reason,
                )
                trade_count += 1
                position = 0.0

        # 3. This bar's signals become orders; orders decided on the last bar never fill.
        if trading and i < bar_count - 1:
            close_reason = NO_ORDER
            open_side = 0
            if position > 0.0:
                if long_exits[i] and not long_entries[i]:
                    close_reason = SIGNAL_EXIT
                elif short_entries[i]:
                    close_reason = REVERSAL_EXIT
                elif _held_too_long_nb(maximum_bars_held, i, entry_bar, trade_on_close):
                    close_reason = TIME_EXIT
                if short_entries[i]:
                    open_side = -1
            elif position < 0.0:
                if short_exits[i] and not short_entries[i]:
                    close_reason = SIGNAL_EXIT
                elif long_entries[i]:
                    close_reason = REVERSAL_EXIT
                elif _held_too_long_nb(maximum_bars_held, i, entry_bar, trade_on_close):
                    close_reason = TIME_EXIT
                if long_entries[i]:
                    open_side = 1
            elif long_entries[i]:
                open_side = 1
            elif short_entries[i]:
                open_side = -1

            if not trade_on_close:
                pending_close_reason = close_reason
                pending_open_side = open_side
                pending_signal_bar = i
            elif close_reason != NO_ORDER or open_side != 0:
                (
                    position,
                    entry_bar,
                    entry_price,
                    entry_commission,
                    stop_level,
                    target_level,
                    trailing_distance,
                    best_price,
                    cash,
                    trade_count,
                ) = _fill_orders_nb(
                    close_prices[i],
                    i,
                    i,
                    close_reason,
                    open_side,
                    position,
                    entry_bar,
                    entry_price,
                    entry_commission,
                    stop_level,
                    target_level,
                    trailing_distance,
                    best_price,
                    cash,
                    trade_count,
                    trade_records,
                    stop_distances,
                    target_distances,
                    trailing_distances,
                    stop_fraction,
                    target_fraction,
                    trailing_fraction,
                    commission_rate,
                    fixed_fee,
                    slippage,
                    lot_size,
                    sizing_code,
                    size_value,
                )

        # 4. Mark to the close. The last bar closes what is open when asked to, and
        #    equity at or below zero closes the position and ends the trading.
        equity = cash
        if position != 0.0:
            equity = cash + (close_prices[i] * position - position * entry_price)
            finalizing = finalize_trades and i == bar_count - 1
            if finalizing or equity <= 0.0:
                side = 1.0 if position > 0.0 else -1.0
                fill = close_prices[i] * (1.0 - side * slippage)
                cash = cash + _record_exit_nb(
                    trade_records,
                    trade_count,
                    entry_bar,
                    i,
                    position,
                    entry_price,
                    fill,
                    entry_commission,
                    commission_rate,
                    fixed_fee,
                    END_EXIT,
                )
                trade_count += 1
                position = 0.0
                equity = cash
        if equity <= 0.0:
            trading = False
            pending_close_reason = NO_ORDER
            pending_open_side = 0
        equity_out[i] = equity

    if position == 0.0:
        return trade_count, 0.0, -1, np.nan, 0.0, cash
    return trade_count, position, entry_bar, entry_price, entry_commission, cash
