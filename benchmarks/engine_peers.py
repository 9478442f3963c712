"""The peers of the engine benchmark: vectorbt and backtesting.py, set to quantdesk's fills.

Both run the same strategy as quantdesk's ``sma_cross`` with ``short=True``
(backtesting.py's own ``SmaCross`` example): a long entry when the fast SMA of
the close crosses above the slow one, a short entry when it crosses below, and
a reversal (close, then open the other side) on each crossing. Fills follow
backtesting.py's default model, which quantdesk's engine copies:

- a market order decided on bar ``i``'s close fills at bar ``i + 1``'s open;
- commission is ``rate * |size| * price`` at entry and again at exit;
- an entry buys the largest whole number of units the equity pays for,
  commission included; a reversal sizes the new side on the equity left
  after closing the old one;
- a position still open at the end is marked to the last close and not closed.

vectorbt is configured to that model by :func:`vectorbt_simulate`; see its
docstring for the settings and why each is needed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import vectorbt

BACKTESTING_COLUMNS = {
    "open": "Open",
    "high": "High",
    "low": "Low",
    "close": "Close",
    "volume": "Volume",
}


@dataclass(frozen=True)
class TradingRules:
    """The account and costs every library is given.

    Attributes
    ----------
    cash
        Starting cash.
    commission
        Commission rate on traded value, charged at entry and at exit.
    """

    cash: float
    commission: float


@dataclass(frozen=True)
class Outcome:
    """What one backtest is compared on.

    Attributes
    ----------
    trades
        Closed trades (a position still open at the end is not counted).
    final_equity
        Equity at the last close, an open position marked to that close.
    """

    trades: int
    final_equity: float


@dataclass(frozen=True)
class SignalArrays:
    """Entries and exits per bar, decided on that bar's close, in quantdesk's sense.

    Attributes
    ----------
    long_entries, long_exits, short_entries, short_exits
        One bool per bar.
    """

    long_entries: np.ndarray
    long_exits: np.ndarray
    short_entries: np.ndarray
    short_exits: np.ndarray


def sweep_combinations(
    fast_windows: Sequence[int], slow_windows: Sequence[int]
) -> list[tuple[int, int]]:
    """Every (fast, slow) pair with ``fast < slow``, fast-major.

    Parameters
    ----------
    fast_windows, slow_windows
        The candidate SMA windows.

    Returns
    -------
    list of tuple of int
        The combinations.
    """
    return [(fast, slow) for fast in fast_windows for slow in slow_windows if fast < slow]


def distinct_windows(combinations: Sequence[tuple[int, int]]) -> list[int]:
    """The SMA windows a sweep needs, each once, ascending.

    Parameters
    ----------
    combinations
        (fast, slow) pairs.

    Returns
    -------
    list of int
        The windows.
    """
    return sorted({window for pair in combinations for window in pair})


def reference_sma_cross_signals(close: np.ndarray, fast: int, slow: int) -> SignalArrays:
    """SMA-cross reversal signals with pandas rolling means and strict crossings.

    A crossing at bar ``i`` needs a strict inequality on bar ``i - 1`` and the
    opposite strict inequality on bar ``i``, as ``backtesting.lib.crossover``.

    Parameters
    ----------
    close
        Close prices.
    fast, slow
        SMA windows.

    Returns
    -------
    SignalArrays
        Long entries on crossings above (also exiting a short), short entries
        on crossings below (also exiting a long).
    """
    series = pd.Series(close)
    difference = (series.rolling(fast).mean() - series.rolling(slow).mean()).to_numpy()
    above = np.zeros(len(close), dtype=np.bool_)
    below = np.zeros(len(close), dtype=np.bool_)
    above[1:] = (difference[:-1] < 0) & (difference[1:] > 0)
    below[1:] = (difference[:-1] > 0) & (difference[1:] < 0)
    return SignalArrays(above, below.copy(), below, above.copy())


# --- vectorbt ---------------------------------------------------------------------------------


def vectorbt_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The bars as vectorbt is fastest with them: the same UTC times, tz-naive.

    vectorbt 1.2 on pandas 3 turns a tz-aware index into an array of
    ``Timestamp`` objects each time it wraps a result (about 2 s per
    wrap at 1,000,000 bars), so the benchmark gives it naive UTC times.

    Parameters
    ----------
    frame
        A canonical quantdesk frame (tz-aware UTC index).

    Returns
    -------
    pandas.DataFrame
        A shallow copy with a tz-naive index.
    """
    naive = frame.copy(deep=False)
    naive.index = pd.DatetimeIndex(frame.index).tz_convert("UTC").tz_localize(None)
    return naive


def _shift_to_fill_bar(signals: np.ndarray) -> np.ndarray:
    """Move each signal one bar later, to the bar whose open fills it."""
    shifted = np.zeros_like(signals)
    shifted[1:] = signals[:-1]
    return shifted


def vectorbt_simulate(
    frame: pd.DataFrame,
    signals: SignalArrays,
    rules: TradingRules,
) -> vectorbt.Portfolio:
    """Run ``Portfolio.from_signals`` on quantdesk's fill model.

    The settings, each needed to match backtesting.py and quantdesk:

    - signals shifted one bar later and ``price=open``: an order decided on a
      close fills at the next open (vectorbt otherwise fills at the signal
      bar's close);
    - ``size=np.inf`` with ``size_granularity=1``: all-in, whole units, the
      commission included in what the cash must pay;
    - ``fees=commission``: charged on traded value at entry and at exit;
    - ``lock_cash=True``: lets an infinite short size resolve to what the
      equity pays for (vectorbt refuses an unbounded short otherwise);
    - ``upon_opposite_entry="reverse"``: an opposite entry closes and opens
      the other side, sized on the cash after closing, in one order that
      vectorbt's trade records split into two trades;
    - ``upon_long_conflict``/``upon_short_conflict="entry"``: an entry and an
      exit of one side on one bar keep the entry, as quantdesk does.

    Parameters
    ----------
    frame
        Bars with a tz-naive index (see :func:`vectorbt_frame`).
    signals
        Signals decided on each bar's close.
    rules
        Cash and commission.

    Returns
    -------
    vectorbt.Portfolio
        The simulated portfolio.
    """
    import vectorbt as vbt

    return _from_signals(
        vbt,
        frame["close"],
        frame["open"].to_numpy(),
        _shift_to_fill_bar(signals.long_entries),
        _shift_to_fill_bar(signals.long_exits),
        _shift_to_fill_bar(signals.short_entries),
        _shift_to_fill_bar(signals.short_exits),
        rules,
    )


def _from_signals(
    vbt: Any,
    close: pd.Series,
    open_prices: np.ndarray,
    long_entries: np.ndarray,
    long_exits: np.ndarray,
    short_entries: np.ndarray,
    short_exits: np.ndarray,
    rules: TradingRules,
) -> vectorbt.Portfolio:
    return vbt.Portfolio.from_signals(
        close,
        entries=long_entries,
        exits=long_exits,
        short_entries=short_entries,
        short_exits=short_exits,
        price=open_prices if long_entries.ndim == 1 else open_prices[:, None],
        init_cash=rules.cash,
        fees=rules.commission,
        size=np.inf,
        size_granularity=1.0,
        lock_cash=True,
        upon_opposite_entry="reverse",
        upon_long_conflict="entry",
        upon_short_conflict="entry",
    )


def vectorbt_outcome(portfolio: vectorbt.Portfolio) -> Outcome:
    """Closed trades and final equity of a one-column portfolio.

    Parameters
    ----------
    portfolio
        From :func:`vectorbt_simulate` or :func:`vectorbt_sma_cross`.

    Returns
    -------
    Outcome
        The comparison figures.
    """
    return Outcome(
        trades=int(portfolio.trades.closed.count()),
        final_equity=float(portfolio.final_value()),
    )


def vectorbt_sma_cross(frame: pd.DataFrame, fast: int, slow: int, rules: TradingRules) -> Outcome:
    """One SMA-cross reversal backtest the vectorbt way: ``MA.run``, crossings, simulation.

    Parameters
    ----------
    frame
        Bars with a tz-naive index (see :func:`vectorbt_frame`).
    fast, slow
        SMA windows.
    rules
        Cash and commission.

    Returns
    -------
    Outcome
        Closed trades and final equity.
    """
    import vectorbt as vbt

    close = frame["close"]
    fast_ma = vbt.MA.run(close, fast)
    slow_ma = vbt.MA.run(close, slow)
    above = fast_ma.ma_crossed_above(slow_ma).to_numpy()
    below = fast_ma.ma_crossed_below(slow_ma).to_numpy()
    signals = SignalArrays(above, below, below, above)
    return vectorbt_outcome(vectorbt_simulate(frame, signals, rules))


def vectorbt_sweep(
    frame: pd.DataFrame,
    combinations: Sequence[tuple[int, int]],
    rules: TradingRules,
    chunk_columns: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A parameter sweep in vectorbt: every distinct SMA once, then chunks of columns.

    Parameters
    ----------
    frame
        Bars with a tz-naive index (see :func:`vectorbt_frame`).
    combinations
        (fast, slow) pairs.
    rules
        Cash and commission.
    chunk_columns
        Combinations simulated at once (one ``from_signals`` call, one column
        each); the whole 175-column sweep on 1,000,000 bars does not fit 24 GB.

    Returns
    -------
    tuple of numpy.ndarray
        Final equity and closed-trade count per combination, in order.
    """
    import vectorbt as vbt

    close = frame["close"]
    open_prices = frame["open"].to_numpy()
    windows = distinct_windows(combinations)
    averages = vbt.MA.run(close, windows).ma.to_numpy()
    column_of = {window: column for column, window in enumerate(windows)}
    final_equities: list[np.ndarray] = []
    trade_counts: list[np.ndarray] = []
    for start in range(0, len(combinations), chunk_columns):
        chunk = combinations[start : start + chunk_columns]
        fast_ma = pd.DataFrame(
            averages[:, [column_of[fast] for fast, _ in chunk]], index=close.index
        )
        slow_ma = pd.DataFrame(
            averages[:, [column_of[slow] for _, slow in chunk]], index=close.index
        )
        above = _shift_to_fill_bar(fast_ma.vbt.crossed_above(slow_ma).to_numpy())
        below = _shift_to_fill_bar(fast_ma.vbt.crossed_below(slow_ma).to_numpy())
        portfolio = _from_signals(vbt, close, open_prices, above, below, below, above, rules)
        final_equities.append(np.asarray(portfolio.final_value(), dtype=np.float64))
        trade_counts.append(np.asarray(portfolio.trades.closed.count(), dtype=np.int64))
        del portfolio
    return np.concatenate(final_equities), np.concatenate(trade_counts)


# --- backtesting.py ---------------------------------------------------------------------------


def backtesting_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The bars with backtesting.py's capitalised column names.

    Parameters
    ----------
    frame
        A canonical quantdesk frame.

    Returns
    -------
    pandas.DataFrame
        The same bars, columns ``Open`` ... ``Volume``.
    """
    return frame.rename(columns=BACKTESTING_COLUMNS)


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(values).rolling(window).mean().to_numpy()


def _backtesting_classes() -> tuple[type[Any], type[Any]]:
    """Define the two backtesting.py strategies (imported lazily, so peers stay optional)."""
    from backtesting import Strategy
    from backtesting.lib import crossover

    class SmaCross(Strategy):  # type: ignore[misc]
        """backtesting.py's SmaCross example, without re-entering a side already held."""

        fast = 10
        slow = 20

        def init(self) -> None:
            self.fast_ma = self.I(_rolling_mean, self.data.Close, self.fast)
            self.slow_ma = self.I(_rolling_mean, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.fast_ma, self.slow_ma):
                if not self.position.is_long:
                    self.position.close()
                    self.buy()
            elif crossover(self.slow_ma, self.fast_ma) and not self.position.is_short:
                self.position.close()
                self.sell()

    class FollowSignals(Strategy):  # type: ignore[misc]
        """Trade given signals by quantdesk's rules (exits first, no pyramiding)."""

        signals: SignalArrays | None = None

        def init(self) -> None:
            if self.signals is None:
                raise ValueError("FollowSignals needs signals=SignalArrays(...)")

        def next(self) -> None:
            signals = self.signals
            assert signals is not None
            bar = len(self.data) - 1
            position = self.position
            long_entry = bool(signals.long_entries[bar])
            short_entry = bool(signals.short_entries[bar])
            if (position.is_long and signals.long_exits[bar] and not long_entry) or (
                position.is_short and signals.short_exits[bar] and not short_entry
            ):
                position.close()
            if long_entry and not position.is_long:
                position.close()
                self.buy()
            elif short_entry and not position.is_short:
                position.close()
                self.sell()

    return SmaCross, FollowSignals


def _backtesting_run(
    frame: pd.DataFrame, strategy: type[Any], rules: TradingRules, **parameters: object
) -> Outcome:
    from backtesting import Backtest

    with warnings.catch_warnings():
        # "Broker canceled the relative-sized order" and "trades remain open": expected here.
        warnings.simplefilter("ignore")
        stats = Backtest(frame, strategy, cash=rules.cash, commission=rules.commission).run(
            **parameters
        )
    return Outcome(trades=int(stats["# Trades"]), final_equity=float(stats["Equity Final [$]"]))


def backtesting_sma_cross(
    frame: pd.DataFrame, fast: int, slow: int, rules: TradingRules
) -> Outcome:
    """One SMA-cross reversal backtest in backtesting.py (its ``SmaCross`` example).

    Parameters
    ----------
    frame
        Bars with capitalised columns (see :func:`backtesting_frame`).
    fast, slow
        SMA windows.
    rules
        Cash and commission.

    Returns
    -------
    Outcome
        Closed trades and final equity.
    """
    sma_cross, _ = _backtesting_classes()
    return _backtesting_run(frame, sma_cross, rules, fast=fast, slow=slow)


def backtesting_simulate(
    frame: pd.DataFrame, signals: SignalArrays, rules: TradingRules
) -> Outcome:
    """Trade given signals in backtesting.py.

    Parameters
    ----------
    frame
        Bars with capitalised columns (see :func:`backtesting_frame`).
    signals
        Signals decided on each bar's close.
    rules
        Cash and commission.

    Returns
    -------
    Outcome
        Closed trades and final equity.
    """
    _, follow_signals = _backtesting_classes()
    return _backtesting_run(frame, follow_signals, rules, signals=signals)
