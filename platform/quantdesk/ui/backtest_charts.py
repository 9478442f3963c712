"""A backtest's interactive charts: candlesticks with trades, equity and drawdown.

Long series stay responsive: the candlesticks are regrouped for the visible
range into at most :data:`CANDLES_SHOWN` candles (each the open, high, low and
close of its group of bars) whenever the viewer zooms or pans, and the equity
and drawdown curves are downsampled with LTTB for the plot's width. A
100,000-bar run therefore draws a few thousand glyphs, not 100,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import holoviews as hv  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
from holoviews.operation.downsample import downsample1d  # type: ignore[import-untyped]

from quantdesk.charts.backtest import trade_markers

if TYPE_CHECKING:
    from quantdesk.engine import BacktestResult

__all__ = ["CANDLES_SHOWN", "backtest_charts", "candle_groups", "equity_comparison"]

CANDLES_SHOWN = 400
"""At most this many candles are drawn for the visible range."""

_UP_COLOR = "#2ca02c"
_DOWN_COLOR = "#d62728"

hv.extension("bokeh", logo=False)


def candle_groups(
    bars: pd.DataFrame, x_range: tuple[Any, Any] | None = None, limit: int = CANDLES_SHOWN
) -> pd.DataFrame:
    """The bars in ``x_range`` merged into at most ``limit`` candles.

    Parameters
    ----------
    bars
        OHLC bars on a timezone-naive time index, oldest first.
    x_range
        The visible times (start, end); all bars when None.
    limit
        The most candles to return.

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``end`` (each candle's span), ``open``, ``high``,
        ``low``, ``close`` and ``rising``; consecutive groups of equal size.
    """
    times = bars.index.to_numpy()
    first, last = 0, len(bars)
    if x_range is not None and len(bars):
        low, high = (np.datetime64(pd.Timestamp(value).tz_localize(None)) for value in x_range)
        first = max(0, int(np.searchsorted(times, low)) - 1)
        last = min(len(bars), int(np.searchsorted(times, high, side="right")) + 1)
    count = last - first
    if count <= 0:
        return pd.DataFrame(columns=["start", "end", "open", "high", "low", "close", "rising"])
    group = max(1, -(-count // limit))
    starts = np.arange(first, last, group)
    ends = np.minimum(starts + group, last) - 1
    opens = bars["open"].to_numpy()[starts]
    closes = bars["close"].to_numpy()[ends]
    highs = np.maximum.reduceat(bars["high"].to_numpy()[first:last], starts - first)
    lows = np.minimum.reduceat(bars["low"].to_numpy()[first:last], starts - first)
    step = np.median(np.diff(times[first:last])) if count > 1 else np.timedelta64(1, "h")
    spans_end = np.r_[times[starts[1:]], times[ends[-1]] + step]
    return pd.DataFrame(
        {
            "start": times[starts],
            "end": spans_end,
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "rising": closes >= opens,
        }
    )


def backtest_charts(result: BacktestResult, bars: pd.DataFrame | None, *, width: int) -> Any:
    """Candlesticks (or the close, without bars) with trade markers, equity and drawdown.

    Parameters
    ----------
    result
        The backtest.
    bars
        Its OHLC bars, for the candlesticks; None draws the close instead.
    width
        Each panel's width in pixels.

    Returns
    -------
    holoviews.Layout
        Three panels sharing the time axis.
    """
    times = pd.DatetimeIndex(result.equity.index).tz_localize(None)
    if bars is not None and len(bars):
        naive = bars.set_axis(pd.DatetimeIndex(bars.index).tz_localize(None))

        def candles(x_range: tuple[Any, Any] | None) -> Any:
            return _candlesticks(candle_groups(naive, x_range))

        price: Any = hv.DynamicMap(candles, streams=[hv.streams.RangeX()])
    else:
        price = downsample1d(
            hv.Curve((times, result.close.to_numpy()), "time", "price"), width=width
        )
    price_panel = (price * trade_markers(result)).opts(
        hv.opts.Overlay(
            title="Price and trades", width=width, height=300, legend_position="top_left"
        )
    )
    equity = hv.Curve((times, result.equity.to_numpy()), "time", "equity")
    drawdown = hv.Curve((times, result.drawdown.to_numpy() * 100.0), "time", "drawdown_pct")
    equity_panel = downsample1d(equity, width=width).opts(
        title="Equity", width=width, height=180, color="#1f77b4"
    )
    drawdown_panel = downsample1d(drawdown, width=width).opts(
        title="Drawdown (%)", width=width, height=160, color=_DOWN_COLOR
    )
    return hv.Layout([price_panel, equity_panel, drawdown_panel]).cols(1)


def equity_comparison(results: Mapping[str, BacktestResult], *, width: int) -> Any:
    """The equity of several runs on one chart, one line each, downsampled.

    Parameters
    ----------
    results
        The runs by label.
    width
        The chart's width in pixels.

    Returns
    -------
    holoviews.Overlay
        One curve per run.
    """
    curves = [
        downsample1d(
            hv.Curve(
                (pd.DatetimeIndex(run.equity.index).tz_localize(None), run.equity.to_numpy()),
                "time",
                "equity",
                label=label,
            ),
            width=width,
        )
        for label, run in results.items()
    ]
    return hv.Overlay(curves).opts(
        title="Equity of the compared runs", width=width, height=300, legend_position="top_left"
    )


def _candlesticks(groups: pd.DataFrame) -> Any:
    middle = groups["start"] + (groups["end"] - groups["start"]) / 2
    wicks = hv.Segments(
        (middle, groups["low"], middle, groups["high"]), ["time", "price", "time_end", "price_end"]
    ).opts(color="#555555", line_width=1, show_legend=False)
    inset = (groups["end"] - groups["start"]) * 0.15
    bodies = hv.Rectangles(
        pd.DataFrame(
            {
                "time": groups["start"] + inset,
                "body_low": np.minimum(groups["open"], groups["close"]),
                "time_end": groups["end"] - inset,
                "body_high": np.maximum(groups["open"], groups["close"]),
                "rising": groups["rising"].map({True: "rising", False: "falling"}),
            }
        ),
        kdims=["time", "body_low", "time_end", "body_high"],
        vdims=["rising"],
    ).opts(
        color="rising",
        cmap={"rising": _UP_COLOR, "falling": _DOWN_COLOR},
        line_width=0,
        show_legend=False,
        framewise=True,
    )
    return (wicks * bodies).relabel("candles")
