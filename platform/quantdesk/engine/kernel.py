"""The compiled simulation: one pass over plain arrays, no pandas.

Everything here is a numba ``@njit(cache=True)`` function named ``*_nb``.
Its inputs come in three typed structures, so a call names every field and
two values cannot be swapped by position: :class:`PriceArrays`,
:class:`SignalArrays` and :class:`TradingRules`. The state a simulation
carries from bar to bar is one :class:`AccountState`, which the kernel
returns at the end. The pandas layer in :mod:`quantdesk.engine.runner`
validates the input, builds the structures and attaches the index to what
comes back.

The fill model, bar by bar (``i`` is the bar):

1. Without ``trade_on_close``: orders decided on bar ``i - 1``'s close fill at
   bar ``i``'s open, exits before entries, so a reversal closes first and sizes
   the new position on the equity left after closing.
2. The position's protective exits are checked against bar ``i``'s range:
   stop-loss, liquidation and trailing stop (whichever level is nearer the
   price; on a tie the first of them in that order), then take-profit.
   A bar that opens beyond a level fills at the open. When a stop and the
   target both lie inside one bar's range the stop is assumed to have come
   first, the pessimistic reading backtesting.py also takes. A trailing stop
   trails the best price seen before the bar's high and low are known: the
   entry, earlier highs (lows for a short) and this bar's open.
3. Signals of bar ``i`` are turned into orders (the rules in
   :mod:`quantdesk.strategies.signals`; a time exit counts bars from the
   entry bar to the fill bar). With ``trade_on_close`` they fill at bar
   ``i``'s close at once; otherwise they wait for bar ``i + 1``'s open.
   Orders decided on the last bar never fill, as in backtesting.py.
4. Equity is marked at bar ``i``'s close: realised cash plus the open
   position's profit at that close. On the last bar ``finalize_trades``
   closes an open position at the close. Once equity is at or below zero
   the trading ends.

Margin and liquidation: an entry may control ``1 / margin`` times the
equity (``margin=1``, the default, is no leverage; backtesting.py's
``margin`` means the same). The liquidation level of a position is the price
at which closing it, slippage and exit commission included, would leave no
equity. A bar whose range reaches that level liquidates the position there
(exit reason ``liquidation``), leaving exactly zero, and the run stops. A
bar that opens beyond it liquidates at the open, and what that gap leaves,
below zero, is the run's final equity.

Prices and costs: market fills (signal orders, stop-loss, trailing stop,
liquidation, time and end exits) are worse than the quoted price by
``slippage``, at entry and at exit; a take-profit is a limit and fills at its
level, or at a better open. Commission is ``rate * |size| * fill price`` plus
``fixed_fee``, at entry and again at exit. An entry is sized at its fill
price on the equity it has (entries only happen flat); one that cannot be
afforded, or whose commission alone would use up the equity, is skipped whole.

Cash here is realised equity, as in backtesting.py: entry commissions are
paid from it at entry, and a closed trade adds its gross profit minus the exit
commission. The arithmetic follows backtesting.py's order of operations, so
sizes computed from it agree with that library to the last unit.

Where backtesting.py differs, on purpose: its ``spread`` worsens entries
only, where ``slippage`` worsens exits too; it sizes an all-in entry as if a
fixed fee were charged per unit, where here the fee is taken off the budget
once; ``finalize_trades`` closes at the last bar's open there and at its
close here; with ``trade_on_close`` it records a bar's equity before that
bar's fills, here after them; it finds a ruined account only at a bar's
close, and closes its trades there, which can leave equity far below zero.
"""

from __future__ import annotations

from typing import NamedTuple

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
LIQUIDATION_EXIT = 7
EXIT_REASONS: tuple[str, ...] = (
    "signal",
    "reversal",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "time",
    "end",
    "liquidation",
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


class PriceArrays(NamedTuple):
    """The bars' prices: contiguous float64 arrays, one value per bar."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


class ProtectiveDistances(NamedTuple):
    """Price distances of each entry's stop-loss, take-profit and trailing stop.

    float64 arrays of one value per bar, read on the entry signal's bar, or
    empty arrays; where a distance is NaN or missing the matching fraction of
    :class:`TradingRules` applies instead.
    """

    stop: np.ndarray
    target: np.ndarray
    trailing: np.ndarray


class SignalArrays(NamedTuple):
    """What the strategy decided, one value per bar, on each bar's close.

    Attributes
    ----------
    long_entries, long_exits, short_entries, short_exits
        bool arrays.
    distances
        The entries' own stop, target and trail distances.
    maximum_bars_held
        Close a position this many bars after its entry bar; 0 for never.
    """

    long_entries: np.ndarray
    long_exits: np.ndarray
    short_entries: np.ndarray
    short_exits: np.ndarray
    distances: ProtectiveDistances
    maximum_bars_held: int


class TradingRules(NamedTuple):
    """The config's trading rules, as the kernel reads them.

    Attributes
    ----------
    cash, commission_rate, fixed_fee, slippage, lot_size
        As in ``BacktestConfig`` (``commission_rate`` is its ``commission``).
    sizing_code, size_value
        The sizing mode (a ``*_SIZING`` constant) and its ``size`` (NaN for none).
    leverage
        ``1 / margin``: how many times its equity a position may be worth.
    stop_fraction, target_fraction, trailing_fraction
        Fractions of the entry fill price for every position; NaN for none.
    trade_on_close, finalize_trades
        As in ``BacktestConfig``.
    """

    cash: float
    commission_rate: float
    fixed_fee: float
    slippage: float
    lot_size: float
    sizing_code: int
    size_value: float
    leverage: float
    stop_fraction: float
    target_fraction: float
    trailing_fraction: float
    trade_on_close: bool
    finalize_trades: bool


class AccountState(NamedTuple):
    """The account between two steps of the simulation.

    Attributes
    ----------
    cash
        Realised cash.
    trade_count
        Closed trades written to the trade records so far.
    trading
        False once equity reached zero: no order fills any more.
    position
        Units held, negative for a short, 0 when flat.
    entry_bar, entry_price, entry_commission
        The open position's entry (bar -1 and NaN price when flat).
    stop_level, stop_reason
        The nearer of its stop-loss and its liquidation level, and which of
        the two it is (``STOP_LOSS_EXIT`` or ``LIQUIDATION_EXIT``).
    target_level, trailing_distance
        Its take-profit level and trailing distance; NaN for none.
    liquidation_level
        The price at which closing it would leave no equity (see
        :func:`liquidation_level_nb`); NaN when flat.
    best_price
        The best price seen since its entry, for the trailing stop.
    """

    cash: float
    trade_count: int
    trading: bool
    position: float
    entry_bar: int
    entry_price: float
    entry_commission: float
    stop_level: float
    stop_reason: int
    target_level: float
    trailing_distance: float
    liquidation_level: float
    best_price: float


class ProtectiveExit(NamedTuple):
    """What one bar's range does to a position: an exit reason or ``NO_ORDER``, and its price.

    ``best_price`` is the best price seen once the bar is over, for a
    position that stays open.
    """

    reason: int
    price: float
    best_price: float


class Orders(NamedTuple):
    """One bar's orders: an exit reason or ``NO_ORDER``, and the side to open (1, -1 or 0)."""

    close_reason: int
    open_side: int
    signal_bar: int


@njit(cache=True, inline="always")
def opening_state_nb(cash: float) -> AccountState:
    """A flat account holding ``cash``."""
    return AccountState(
        cash=cash,
        trade_count=0,
        trading=True,
        position=0.0,
        entry_bar=-1,
        entry_price=np.nan,
        entry_commission=0.0,
        stop_level=np.nan,
        stop_reason=STOP_LOSS_EXIT,
        target_level=np.nan,
        trailing_distance=np.nan,
        liquidation_level=np.nan,
        best_price=np.nan,
    )


@njit(cache=True, inline="always")
def _changed_state_nb(
    state: AccountState,
    cash: float,
    trade_count: int,
    trading: bool,
    position: float,
    best_price: float,
) -> AccountState:
    """The account with what a bar changes replaced; the entry and its levels kept."""
    return AccountState(
        cash=cash,
        trade_count=trade_count,
        trading=trading,
        position=position,
        entry_bar=state.entry_bar,
        entry_price=state.entry_price,
        entry_commission=state.entry_commission,
        stop_level=state.stop_level,
        stop_reason=state.stop_reason,
        target_level=state.target_level,
        trailing_distance=state.trailing_distance,
        liquidation_level=state.liquidation_level,
        best_price=best_price,
    )


@njit(cache=True, inline="always")
def _stopped_state_nb(state: AccountState, cash: float) -> AccountState:
    """The account once its equity is gone: ``cash`` as it stands and no more trading."""
    return _changed_state_nb(
        state, cash, state.trade_count, False, state.position, state.best_price
    )


@njit(cache=True, inline="always")
def entry_units_nb(available: float, fill_price: float, rules: TradingRules) -> float:
    """Units an entry buys or sells, or 0 when it cannot be afforded.

    Parameters
    ----------
    available
        Equity available to the entry (the whole equity: entries happen flat).
    fill_price
        The entry's fill price, slippage included.
    rules
        Commission, fee, lot size, sizing and leverage.

    Returns
    -------
    float
        A whole number of lots times ``lot_size``, never more than
        ``available`` times the leverage pays for with commission and fee; 0
        to skip the order.
    """
    if available <= 0.0:
        return 0.0
    commission_rate = rules.commission_rate
    fixed_fee = rules.fixed_fee
    lot_size = rules.lot_size
    buying_power = available * rules.leverage
    if rules.sizing_code == UNITS_SIZING:
        units = float(np.floor(rules.size_value / lot_size)) * lot_size
        cost = units * fill_price + (fixed_fee + (units * fill_price) * commission_rate)
        return units if units > 0.0 and cost <= buying_power else 0.0
    if rules.sizing_code == CASH_SIZING:
        if rules.size_value > buying_power:
            return 0.0
        fraction = 1.0
        budget = rules.size_value
    elif rules.sizing_code == EQUITY_FRACTION_SIZING:
        fraction = rules.size_value
        budget = buying_power * rules.size_value
    else:
        fraction = FULL_EQUITY_FRACTION
        budget = buying_power * FULL_EQUITY_FRACTION
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
def liquidation_level_nb(
    position: float, entry_price: float, cash: float, rules: TradingRules
) -> float:
    """The quoted price at which closing a position would leave no equity.

    Slippage and the exit commission are included: a market exit at this
    level fills at ``level * (1 - side * slippage)``, and realised cash plus
    the trade's profit less its exit commission is then zero.

    Parameters
    ----------
    position
        Units held, negative for a short; not 0.
    entry_price
        The position's entry fill price.
    cash
        Realised cash, the entry commission paid.
    rules
        Commission, fee and slippage.

    Returns
    -------
    float
        The level; at or below zero for a long that no price can ruin.
    """
    side = 1.0 if position > 0.0 else -1.0
    exit_fill = (rules.fixed_fee + position * entry_price - cash) / (
        position - abs(position) * rules.commission_rate
    )
    return exit_fill / (1.0 - side * rules.slippage)


@njit(cache=True, inline="always")
def _close_position_nb(
    state: AccountState,
    trade_records: np.ndarray,
    exit_bar: int,
    exit_price: float,
    reason: int,
    rules: TradingRules,
) -> AccountState:
    """Write the closed trade and return the flat account, its gross profit less exit fee added."""
    position = state.position
    exit_commission = rules.fixed_fee + (abs(position) * exit_price) * rules.commission_rate
    record = trade_records[state.trade_count]
    record[ENTRY_BAR_COLUMN] = state.entry_bar
    record[EXIT_BAR_COLUMN] = exit_bar
    record[SIZE_COLUMN] = position
    record[ENTRY_PRICE_COLUMN] = state.entry_price
    record[EXIT_PRICE_COLUMN] = exit_price
    record[COMMISSION_COLUMN] = state.entry_commission + exit_commission
    record[EXIT_REASON_COLUMN] = reason
    cash = state.cash + (position * (exit_price - state.entry_price) - exit_commission)
    return _changed_state_nb(
        state, cash, state.trade_count + 1, state.trading, 0.0, state.best_price
    )


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
    state: AccountState,
    orders: Orders,
    base_price: float,
    bar: int,
    distances: ProtectiveDistances,
    rules: TradingRules,
    trade_records: np.ndarray,
) -> AccountState:
    """Fill one bar's orders at one price: close the position first, then open the new one.

    Parameters
    ----------
    state
        The account before the fills.
    orders
        What to close and open; the new position takes the stop, target and
        trail distances of the orders' signal bar.
    base_price
        The quoted price of both fills before slippage: the bar's open, or its
        close with ``trade_on_close``.
    bar
        The fill bar, the closed trade's exit bar and the new entry bar.
    signals, rules, trade_records
        As in :func:`simulate_nb`.

    Returns
    -------
    AccountState
        The account after the fills.
    """
    slippage = rules.slippage
    if orders.close_reason != NO_ORDER and state.position != 0.0:
        side = 1.0 if state.position > 0.0 else -1.0
        fill = base_price * (1.0 - side * slippage)
        state = _close_position_nb(state, trade_records, bar, fill, orders.close_reason, rules)
    if orders.open_side != 0 and state.position == 0.0:
        side = float(orders.open_side)
        fill = base_price * (1.0 + side * slippage)
        units = entry_units_nb(state.cash, fill, rules)
        if units > 0.0:
            entry_commission = rules.fixed_fee + (units * fill) * rules.commission_rate
            if entry_commission < state.cash:
                signal_bar = orders.signal_bar
                cash = state.cash - entry_commission
                position = side * units
                liquidation_level = liquidation_level_nb(position, fill, cash, rules)
                stop_level = fill - side * _protective_distance_nb(
                    distances.stop, signal_bar, rules.stop_fraction, fill
                )
                stop_reason = STOP_LOSS_EXIT
                if np.isnan(stop_level) or side * (liquidation_level - stop_level) > 0.0:
                    stop_level = liquidation_level
                    stop_reason = LIQUIDATION_EXIT
                state = AccountState(
                    cash=cash,
                    trade_count=state.trade_count,
                    trading=state.trading,
                    position=position,
                    entry_bar=bar,
                    entry_price=fill,
                    entry_commission=entry_commission,
                    stop_level=stop_level,
                    stop_reason=stop_reason,
                    target_level=fill
                    + side
                    * _protective_distance_nb(
                        distances.target, signal_bar, rules.target_fraction, fill
                    ),
                    trailing_distance=_protective_distance_nb(
                        distances.trailing, signal_bar, rules.trailing_fraction, fill
                    ),
                    liquidation_level=liquidation_level,
                    best_price=fill,
                )
    return state


@njit(cache=True, inline="always")
def _protective_exit_nb(
    state: AccountState, bar_open: float, bar_high: float, bar_low: float, slippage: float
) -> ProtectiveExit:
    """Whether one bar's range liquidates, stops out or takes profit on the open position."""
    side = 1.0 if state.position > 0.0 else -1.0
    best_price = max(state.best_price, bar_open) if side > 0.0 else min(state.best_price, bar_open)
    trailing_level = best_price - side * state.trailing_distance
    stop_level = state.stop_level
    # Of the adverse levels the one nearer the price is reached first; the
    # fixed one (stop-loss or liquidation, chosen at entry) on a tie.
    adverse_level = stop_level
    adverse_reason = state.stop_reason
    if not np.isnan(trailing_level) and (
        np.isnan(stop_level) or side * (trailing_level - stop_level) > 0.0
    ):
        adverse_level = trailing_level
        adverse_reason = TRAILING_STOP_EXIT
    if side > 0.0:
        if bar_low <= adverse_level:
            return ProtectiveExit(
                reason=adverse_reason,
                price=min(bar_open, adverse_level) * (1.0 - slippage),
                best_price=best_price,
            )
        if bar_high >= state.target_level:
            return ProtectiveExit(
                reason=TAKE_PROFIT_EXIT,
                price=max(bar_open, state.target_level),
                best_price=best_price,
            )
        return ProtectiveExit(reason=NO_ORDER, price=np.nan, best_price=max(best_price, bar_high))
    if bar_high >= adverse_level:
        return ProtectiveExit(
            reason=adverse_reason,
            price=max(bar_open, adverse_level) * (1.0 + slippage),
            best_price=best_price,
        )
    if bar_low <= state.target_level:
        return ProtectiveExit(
            reason=TAKE_PROFIT_EXIT,
            price=min(bar_open, state.target_level),
            best_price=best_price,
        )
    return ProtectiveExit(reason=NO_ORDER, price=np.nan, best_price=min(best_price, bar_low))


@njit(cache=True, inline="always")
def _signal_orders_nb(
    state: AccountState,
    bar: int,
    long_entry: bool,
    long_exit: bool,
    short_entry: bool,
    short_exit: bool,
    maximum_bars_held: int,
    trade_on_close: bool,
) -> Orders:
    """The orders bar ``bar``'s signals make for the position held."""
    close_reason = NO_ORDER
    open_side = 0
    position = state.position
    if position != 0.0:
        if position > 0.0:
            held_entry, held_exit, opposite_entry, opposite_side = (
                long_entry,
                long_exit,
                short_entry,
                -1,
            )
        else:
            held_entry, held_exit, opposite_entry, opposite_side = (
                short_entry,
                short_exit,
                long_entry,
                1,
            )
        if held_exit and not held_entry:
            close_reason = SIGNAL_EXIT
        elif opposite_entry:
            close_reason = REVERSAL_EXIT
        elif _held_too_long_nb(maximum_bars_held, bar, state.entry_bar, trade_on_close):
            close_reason = TIME_EXIT
        if opposite_entry:
            open_side = opposite_side
    elif long_entry:
        open_side = 1
    elif short_entry:
        open_side = -1
    return Orders(close_reason=close_reason, open_side=open_side, signal_bar=bar)


@njit(cache=True)
def simulate_nb(
    prices: PriceArrays,
    signals: SignalArrays,
    rules: TradingRules,
    equity_out: np.ndarray,
    trade_records: np.ndarray,
) -> AccountState:
    """Simulate one backtest over plain arrays.

    Parameters
    ----------
    prices
        The bars' prices.
    signals
        The strategy's signals and stop distances.
    rules
        The trading rules.
    equity_out
        float64, one per bar; receives the equity at each close.
    trade_records
        float64 of shape ``(capacity, TRADE_RECORD_WIDTH)`` with capacity at
        least :func:`count_entry_signals_nb`; closed trades are written in
        order, one row each (see the ``*_COLUMN`` constants). Sizes are
        negative for shorts; commissions cover entry and exit.

    Returns
    -------
    AccountState
        The account after the last bar: ``trade_count`` rows were written,
        and a position still open (``position`` not 0) is reported with its
        entry.
    """
    # Arrays are taken out of their structures once: passing a structure that
    # holds arrays to a per-bar helper would count references at every bar.
    open_prices = prices.open
    high_prices = prices.high
    low_prices = prices.low
    close_prices = prices.close
    long_entries = signals.long_entries
    long_exits = signals.long_exits
    short_entries = signals.short_entries
    short_exits = signals.short_exits
    maximum_bars_held = signals.maximum_bars_held
    distances = signals.distances
    bar_count = close_prices.shape[0]
    trade_on_close = rules.trade_on_close
    state = opening_state_nb(rules.cash)
    pending = Orders(close_reason=NO_ORDER, open_side=0, signal_bar=-1)

    for i in range(bar_count):
        # 1. Orders decided on the previous close fill at this bar's open, exit first.
        if pending.close_reason != NO_ORDER or pending.open_side != 0:
            state = _fill_orders_nb(
                state, pending, open_prices[i], i, distances, rules, trade_records
            )
        pending = Orders(close_reason=NO_ORDER, open_side=0, signal_bar=-1)

        # 2. Liquidation, stops and target inside this bar's range.
        if state.position != 0.0:
            bar_open = open_prices[i]
            protective = _protective_exit_nb(
                state, bar_open, high_prices[i], low_prices[i], rules.slippage
            )
            if protective.reason == NO_ORDER:
                state = _changed_state_nb(
                    state,
                    state.cash,
                    state.trade_count,
                    state.trading,
                    state.position,
                    protective.best_price,
                )
            else:
                gapped = (bar_open - state.liquidation_level) * state.position < 0.0
                state = _close_position_nb(
                    state, trade_records, i, protective.price, protective.reason, rules
                )
                if protective.reason == LIQUIDATION_EXIT:
                    # Reached inside the bar the level leaves nothing (what
                    # rounding leaves either side of zero is not equity); a
                    # gap past it leaves what it leaves.
                    state = _stopped_state_nb(state, state.cash if gapped else 0.0)

        # 3. This bar's signals become orders; orders decided on the last bar never fill.
        if state.trading and i < bar_count - 1:
            orders = _signal_orders_nb(
                state,
                i,
                long_entries[i],
                long_exits[i],
                short_entries[i],
                short_exits[i],
                maximum_bars_held,
                trade_on_close,
            )
            if not trade_on_close:
                pending = orders
            elif orders.close_reason != NO_ORDER or orders.open_side != 0:
                state = _fill_orders_nb(
                    state, orders, close_prices[i], i, distances, rules, trade_records
                )

        # 4. Mark to the close. The last bar closes what is open when asked to;
        #    equity at or below zero ends the trading.
        equity = state.cash
        if state.position != 0.0:
            position = state.position
            equity = state.cash + (close_prices[i] * position - position * state.entry_price)
            finalizing = rules.finalize_trades and i == bar_count - 1
            if finalizing or equity <= 0.0:
                side = 1.0 if position > 0.0 else -1.0
                fill = close_prices[i] * (1.0 - side * rules.slippage)
                reason = END_EXIT if equity > 0.0 else LIQUIDATION_EXIT
                state = _close_position_nb(state, trade_records, i, fill, reason, rules)
                equity = state.cash
        if equity <= 0.0:
            state = _stopped_state_nb(state, state.cash)
            pending = Orders(close_reason=NO_ORDER, open_side=0, signal_bar=-1)
        equity_out[i] = equity

    return state
