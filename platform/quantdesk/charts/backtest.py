"""The picture of a backtest: price with trades, equity and drawdown.

holoviews is imported inside :func:`plot_result` only, so importing this
module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from quantdesk.engine.result import BacktestResult

PLOT_POINTS = 4_000
"""About how many points a panel draws at most."""

_LONG_COLOR = "#2ca02c"
_SHORT_COLOR = "#d62728"
_EXIT_COLOR = "#1f77b4"


def plot_result(result: BacktestResult, *, width: int = 900) -> Any:
    """Three panels in one column: price with trade markers, equity, drawdown.

    Parameters
    ----------
    result
        The backtest to draw.
    width
        Width of each panel in pixels.

    Returns
    -------
    holoviews.Layout
        The price panel overlays the close with long entries, short entries
        (the open position's included) and exits; then the equity curve and
        the drawdown in percent. The panels share their time axis.
    """
    # holoviews ships no type information; importing its bokeh plotting
    # registers the styling options used below.
    import holoviews as hv  # type: ignore[import-untyped]
    import holoviews.plotting.bokeh  # type: ignore[import-untyped]

    times = pd.DatetimeIndex(result.equity.index).tz_localize(None)

    def thinned_curve(element: Any, values: np.ndarray, name: str) -> Any:
        shown = thinned_positions(values)
        return element((times[shown], values[shown]), "time", name)

    price_panel = (
        thinned_curve(hv.Curve, result.close.to_numpy(), "price")
        .relabel("close")
        .opts(color="#444444", line_width=1)
        * trade_markers(result)
    ).opts(title="Price and trades", width=width, height=300, legend_position="top_left")
    equity_panel = thinned_curve(hv.Curve, result.equity.to_numpy(), "equity").opts(
        title="Equity", width=width, height=200, color=_EXIT_COLOR
    )
    drawdown_panel = thinned_curve(
        hv.Area, result.drawdown.to_numpy() * 100.0, "drawdown_pct"
    ).opts(title="Drawdown (%)", width=width, height=200, color=_SHORT_COLOR, alpha=0.4)
    return hv.Layout([price_panel, equity_panel, drawdown_panel]).cols(1)


def trade_markers(result: BacktestResult) -> Any:
    """The trades as markers on the price: long entries, short entries and exits.

    Parameters
    ----------
    result
        The backtest whose trades to mark; its open position's entry included.

    Returns
    -------
    holoviews.Overlay
        Three ``Scatter`` layers over ``time`` (timezone-naive) and ``price``.
    """
    import holoviews as hv

    times = pd.DatetimeIndex(result.equity.index).tz_localize(None)
    trades = result.trades
    entry_bars = trades["entry_bar"].to_numpy(dtype=np.int64)
    entry_prices = trades["entry_price"].to_numpy(dtype=np.float64)
    entry_sizes = trades["size"].to_numpy(dtype=np.float64)
    if result.open_position is not None:
        entry_bars = np.r_[entry_bars, result.open_position.entry_bar]
        entry_prices = np.r_[entry_prices, result.open_position.entry_price]
        entry_sizes = np.r_[entry_sizes, result.open_position.size]

    def markers(bars: np.ndarray, prices: np.ndarray, label: str, color: str, marker: str) -> Any:
        return hv.Scatter((times[bars], prices), "time", "price", label=label).opts(
            color=color, marker=marker, size=8
        )

    longs, shorts = entry_sizes > 0, entry_sizes < 0
    return hv.Overlay(
        [
            markers(entry_bars[longs], entry_prices[longs], "long entry", _LONG_COLOR, "triangle"),
            markers(
                entry_bars[shorts],
                entry_prices[shorts],
                "short entry",
                _SHORT_COLOR,
                "inverted_triangle",
            ),
            markers(
                trades["exit_bar"].to_numpy(dtype=np.int64),
                trades["exit_price"].to_numpy(dtype=np.float64),
                "exit",
                _EXIT_COLOR,
                "x",
            ),
        ]
    )


def thinned_positions(values: np.ndarray, points: int = PLOT_POINTS) -> np.ndarray:
    """Which positions to draw: all, or the lowest and highest of each stretch, in order.

    Parameters
    ----------
    values
        The series to draw.
    points
        About how many positions to keep at most.

    Returns
    -------
    numpy.ndarray
        Sorted positions into ``values``; every local extreme of a stretch of
        ``2 * len(values) / points`` values survives, so peaks and troughs show.
    """
    count = len(values)
    if count <= points:
        return np.arange(count)
    bounds = np.linspace(0, count, points // 2 + 1).astype(np.int64)
    starts = bounds[:-1]
    lowest = np.minimum.reduceat(values, starts)
    highest = np.maximum.reduceat(values, starts)
    positions = []
    for start, stop, low, high in zip(starts, bounds[1:], lowest, highest, strict=True):
        stretch = values[start:stop]
        positions.append(start + int(np.argmax(stretch == low)))
        positions.append(start + int(np.argmax(stretch == high)))
    return np.unique(np.asarray(positions, dtype=np.int64))
