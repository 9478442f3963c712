"""The backtests page: run a strategy as a job, see its charts, trades and stats; compare runs.

The form is generated from the chosen strategy's typed parameters. The run
goes to the cluster with :func:`quantdesk.submit` and is saved, so it can be
compared later with any of your saved runs side by side.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import panel as pn

from quantdesk.api.data import load
from quantdesk.api.research import submit
from quantdesk.api.runs import list_runs, load_run
from quantdesk.config import Settings
from quantdesk.engine import STAT_KEYS, BacktestResult
from quantdesk.errors import InvalidInputError
from quantdesk.ui.backtest_charts import backtest_charts, equity_comparison
from quantdesk.ui.feedback import Notice, disabled_while, run_blocking
from quantdesk.ui.job_progress import JobProgress
from quantdesk.ui.page import PAGE_WIDTH, build_page
from quantdesk.ui.parameter_widgets import MarketForm, ParameterForm, strategy_chooser
from quantdesk.ui.stats_view import headline_html, stats_frame
from quantdesk.ui.tables import read_only_table

__all__ = ["backtests_page"]

CHART_WIDTH = PAGE_WIDTH - 60
TRADE_COLUMNS_SHOWN = (
    "entry_time",
    "exit_time",
    "size",
    "entry_price",
    "exit_price",
    "pnl",
    "return_pct",
    "exit_reason",
)
RUNS_OFFERED = 50


def backtests_page(settings: Settings | None = None) -> pn.layout.Column:
    """The backtests dashboard, as the viewer's database role.

    Run a strategy as a job, see its charts and stats, compare saved runs; ``settings`` are
    read from the environment when None.
    """
    return build_page("backtests", _backtests, settings)


def _backtests(notice: Notice, settings: Settings) -> list[pn.viewable.Viewable]:
    return [
        pn.Tabs(
            ("Run", _run_tab(notice, settings)),
            ("Compare saved runs", _compare_tab(notice, settings)),
            dynamic=False,
            sizing_mode="stretch_width",
        )
    ]


def _run_tab(notice: Notice, settings: Settings) -> pn.layout.Column:
    chooser = strategy_chooser()
    parameters = ParameterForm(chooser.value)
    market = MarketForm()
    cash = pn.widgets.FloatInput(name="Cash", value=10_000.0, start=1.0, width=110)
    commission = pn.widgets.FloatInput(
        name="Commission", value=0.001, start=0.0, end=0.1, step=0.0005, width=110
    )
    lot_size = pn.widgets.FloatInput(
        name="Lot size", value=1e-8, start=1e-12, step=1e-8, width=110, format="0.[00000000]"
    )
    run_name = pn.widgets.TextInput(
        name="Run name (optional)", width=200, css_classes=["quantdesk-run-name"]
    )
    run = pn.widgets.Button(name="Run backtest", button_type="primary", width=150, margin=(25, 10))
    progress = JobProgress()
    headline = pn.pane.HTML("", margin=(5, 10))
    chart = pn.pane.HoloViews(None, css_classes=["quantdesk-chart"], linked_axes=True)
    trades_title = pn.pane.Markdown("**Trades**")
    trades_table = read_only_table(pd.DataFrame(columns=list(TRADE_COLUMNS_SHOWN)))
    stats_table = read_only_table(
        pd.DataFrame(columns=["statistic", "value"]), page_size=len(STAT_KEYS)
    )
    shown = pn.Column(
        headline,
        chart,
        pn.Row(
            pn.Column(trades_title, trades_table, sizing_mode="stretch_width"),
            pn.Column(pn.pane.Markdown("**All statistics**"), stats_table, width=340),
            sizing_mode="stretch_width",
        ),
        sizing_mode="stretch_width",
    )
    results = pn.Column(shown, sizing_mode="stretch_width", min_height=50)
    chooser.param.watch(lambda event: parameters.show(event.new), "value")

    async def start(_: object) -> None:
        notice.clear()
        with notice.guard(), disabled_while(run):
            request = market.request()
            job = await run_blocking(
                _submit,
                chooser.value,
                request,
                parameters.values(),
                {"cash": cash.value, "commission": commission.value, "lot_size": lot_size.value},
                (run_name.value or "").strip() or None,
                settings,
                busy=results,
            )
            result: BacktestResult = await progress.follow(job)
            bars = await run_blocking(_bars_of, result, settings, busy=results)
            trades = _trades_frame(result)
            stats = dict(result.stats)
            headline.object = headline_html(stats)
            chart.object = backtest_charts(result, bars, width=CHART_WIDTH)
            trades_title.object = f"**Trades** ({len(trades)})"
            trades_table.object = trades
            stats_table.object = stats_frame({"value": stats})

            notice.success(f"Backtest finished and saved: {result.stats['n_trades']} trades.")

    run.on_click(start)
    return pn.Column(
        pn.Row(chooser, market.layout),
        pn.pane.Markdown("**Parameters**", margin=(0, 10)),
        parameters.layout,
        pn.Row(cash, commission, lot_size, run_name, run),
        progress.layout,
        results,
        sizing_mode="stretch_width",
    )


def _submit(
    strategy: str,
    request: dict[str, Any],
    parameters: dict[str, object],
    engine: dict[str, float],
    name: str | None,
    settings: Settings,
) -> Any:
    if not request["data"]:
        raise InvalidInputError("enter a symbol as SOURCE:SYMBOL, e.g. sample:BTC/USDT")
    return submit(
        strategy,
        request["data"],
        params=parameters,
        timeframe=request["timeframe"],
        start=request["start"],
        end=request["end"],
        save=True,
        name=name,
        settings=settings,
        cash=engine["cash"],
        commission=engine["commission"],
        lot_size=engine["lot_size"],
    )


def _bars_of(result: BacktestResult, settings: Settings) -> pd.DataFrame | None:
    """The run's OHLC bars from the cache when it read them by address, else None."""
    if result.data_address is None or result.timeframe is None or len(result.equity) == 0:
        return None
    index = result.equity.index
    last = index[-1] + (index[-1] - index[-2] if len(index) > 1 else pd.Timedelta(0))
    frame = load(
        result.data_address,
        timeframe=result.timeframe,
        start=index[0],
        end=last,
        settings=settings,
    )
    return frame.loc[index[0] : index[-1]]


def _trades_frame(result: BacktestResult) -> pd.DataFrame:
    trades = result.trades.loc[:, list(TRADE_COLUMNS_SHOWN)].copy()
    for column in ("entry_time", "exit_time"):
        trades[column] = trades[column].dt.strftime("%Y-%m-%d %H:%M")
    trades["exit_reason"] = trades["exit_reason"].astype(str)
    return trades.round(4)


def _compare_tab(notice: Notice, settings: Settings) -> pn.layout.Column:
    choice = pn.widgets.MultiChoice(
        name="Saved runs to compare", options={}, width=700, max_items=6
    )
    refresh = pn.widgets.Button(name="Reload list", width=110, margin=(25, 10))
    compare = pn.widgets.Button(name="Compare", button_type="primary", width=110, margin=(25, 10))
    comparison_chart = pn.pane.HoloViews(None)
    comparison_table = read_only_table(
        pd.DataFrame(), page_size=len(STAT_KEYS), css_classes=["quantdesk-compared"]
    )
    compared = pn.Column(comparison_chart, comparison_table, sizing_mode="stretch_width")
    shown = pn.Column(compared, sizing_mode="stretch_width", min_height=50)

    async def reload(_: object = None) -> None:
        with notice.guard():
            runs = await run_blocking(list_runs, busy=choice, limit=RUNS_OFFERED, settings=settings)
            choice.options = {_run_label(run): str(run.id) for run in runs}

    async def show(_: object) -> None:
        notice.clear()
        with notice.guard():
            if not choice.value:
                raise InvalidInputError("choose one or more saved runs to compare")
            labels = {run_id: label for label, run_id in choice.options.items()}
            loaded = {}
            for run_id in choice.value:
                loaded[labels[run_id]] = await run_blocking(
                    load_run, run_id, busy=shown, settings=settings
                )
            comparison_chart.object = equity_comparison(loaded, width=CHART_WIDTH)
            comparison_table.object = stats_frame(
                {label: dict(run.stats) for label, run in loaded.items()}
            )

    refresh.on_click(reload)
    compare.on_click(show)
    pn.state.onload(reload)
    return pn.Column(pn.Row(choice, refresh, compare), shown, sizing_mode="stretch_width")


def _run_label(run: Any) -> str:
    created = run.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    title = run.name or f"{run.strategy} {run.symbol} {run.timeframe}"
    return f"{title} · {created} · {str(run.id)[:8]}"
