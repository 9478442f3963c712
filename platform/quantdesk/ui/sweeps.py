"""The sweeps page: an objective heatmap over two parameters that fills in as chunks finish.

The sweep runs on the cluster with :func:`quantdesk.sweep` in small chunks;
once a second the page draws the chunks finished so far, then the overfitting
guards of the whole sweep (the deflated Sharpe ratio and the probability of
backtest overfitting). A walk-forward over the same grid, when asked for,
shows each fold's choice and the stitched out-of-sample equity.
"""

from __future__ import annotations

import html
import math
from typing import Any

import holoviews as hv  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import panel as pn
from holoviews.operation.downsample import downsample1d  # type: ignore[import-untyped]

from quantdesk.api.data import load
from quantdesk.api.research import sweep
from quantdesk.compute.jobs import Job
from quantdesk.config import Settings
from quantdesk.errors import InvalidInputError
from quantdesk.research import SweepResult, WalkForwardResult, parse_parameter_space
from quantdesk.strategies import strategy_class
from quantdesk.ui.feedback import Notice, disabled_while, run_blocking
from quantdesk.ui.job_progress import JobProgress
from quantdesk.ui.page import PAGE_WIDTH, build_page
from quantdesk.ui.parameter_widgets import MarketForm, default_sweep_range, strategy_chooser
from quantdesk.ui.stats_view import format_stat
from quantdesk.ui.tables import read_only_table

__all__ = ["objective_grid", "sweeps_page"]

OBJECTIVES = ("sharpe", "sortino", "calmar", "total_return_pct", "max_drawdown_pct", "sqn")
CHUNKS = 8
"""About how many pieces a sweep is cut into, so its heatmap fills in visibly."""
HEATMAP_WIDTH = 620
FOLD_COLUMNS = (
    "fold",
    "in-sample bars",
    "out-of-sample bars",
    "chosen",
    "in sample",
    "out of sample",
)
"""The walk-forward table's columns; the last two are the objective in and out of sample."""


def sweeps_page(settings: Settings | None = None) -> pn.layout.Column:
    """The sweeps dashboard, as the viewer's database role.

    The objective heatmap, the overfitting guards, the walk-forward; ``settings`` are read
    from the environment when None.
    """
    return build_page("sweeps", _sweeps, settings)


def objective_grid(
    rows: pd.DataFrame, x: str, y: str, objective: str, grid: pd.DataFrame
) -> pd.DataFrame:
    """Each grid cell's objective: evaluated rows' values, NaN where not (yet) evaluated.

    Parameters
    ----------
    rows
        Evaluated combinations, with columns ``x``, ``y`` and ``objective``.
    x, y
        The two swept parameters.
    objective
        The statistic shown.
    grid
        Every combination of the sweep, columns ``x`` and ``y``.

    Returns
    -------
    pandas.DataFrame
        ``grid`` with an ``objective`` column.
    """
    values = (
        rows.loc[:, [x, y, objective]].astype({objective: float})
        if len(rows)
        else pd.DataFrame(columns=[x, y, objective])
    )
    return grid.merge(values, on=[x, y], how="left")


def _sweeps(notice: Notice, settings: Settings) -> list[pn.viewable.Viewable]:
    chooser = strategy_chooser(exclude=("ml_predictive",))
    x_name = pn.widgets.Select(name="Parameter across", width=150)
    y_name = pn.widgets.Select(name="Parameter down", width=150)
    x_range = pn.widgets.TextInput(
        name="Values across (START:STOP:STEP)", width=220, css_classes=["quantdesk-x-values"]
    )
    y_range = pn.widgets.TextInput(
        name="Values down (START:STOP:STEP)", width=220, css_classes=["quantdesk-y-values"]
    )
    objective = pn.widgets.Select(
        name="Objective", options=list(OBJECTIVES), value="sharpe", width=140
    )
    folds = pn.widgets.IntInput(
        name="Walk-forward folds (0: none)",
        value=3,
        start=0,
        end=20,
        width=190,
        css_classes=["quantdesk-folds"],
    )
    market = MarketForm()
    run = pn.widgets.Button(name="Run sweep", button_type="primary", width=130, margin=(25, 10))
    progress = JobProgress()
    heatmap = pn.pane.HoloViews(
        _heatmap(pd.DataFrame({"x": [], "y": [], "objective": []}), "x", "y", "objective"),
        css_classes=["quantdesk-heatmap"],
    )
    guards = pn.pane.HTML("", width=PAGE_WIDTH - HEATMAP_WIDTH - 60, margin=(10, 20))
    evaluated = pn.pane.Str("", margin=(0, 10), css_classes=["quantdesk-evaluated"])
    folds_table = read_only_table(pd.DataFrame(columns=list(FOLD_COLUMNS)), page_size=10)
    walk_equity = pn.pane.HoloViews(None, css_classes=["quantdesk-walk-forward"])
    walk_forward = pn.Column(
        pn.pane.Markdown("### Walk-forward", margin=(5, 10)),
        folds_table,
        walk_equity,
        sizing_mode="stretch_width",
    )

    def strategy_changed(_: object = None) -> None:
        definitions = strategy_class(chooser.value).parameter_definitions()
        numeric = [name for name, spec in definitions.items() if spec.kind != "bool"]
        x_name.options = numeric
        y_name.options = numeric
        x_name.value = numeric[0] if numeric else None
        y_name.value = numeric[1] if len(numeric) > 1 else None

    def parameter_changed(widget: pn.widgets.Select, values: pn.widgets.TextInput) -> None:
        if widget.value is not None:
            definitions = strategy_class(chooser.value).parameter_definitions()
            values.value = default_sweep_range(definitions[widget.value])

    chooser.param.watch(strategy_changed, "value")
    x_name.param.watch(lambda _: parameter_changed(x_name, x_range), "value")
    y_name.param.watch(lambda _: parameter_changed(y_name, y_range), "value")
    strategy_changed()

    async def start(_: object) -> None:
        notice.clear()
        with notice.guard(), disabled_while(run):
            x, y, key = x_name.value, y_name.value, objective.value
            if x is None or y is None or x == y:
                raise InvalidInputError("choose two different parameters to sweep")
            space = {x: (x_range.value or "").strip(), y: (y_range.value or "").strip()}
            grid = pd.DataFrame(
                list(parse_parameter_space(chooser.value, space).grid()), columns=[x, y]
            )

            def draw_cells(rows: pd.DataFrame) -> None:
                cells = objective_grid(rows, x, y, key, grid)
                heatmap.object = _heatmap(cells, x, y, key)
                evaluated.object = f"{len(rows)} of {len(grid)} combinations evaluated"

            draw_cells(pd.DataFrame())
            guards.object = ""
            request = market.request()
            job = await run_blocking(
                _submit, chooser.value, request, space, key, None, len(grid), settings, busy=heatmap
            )

            result: SweepResult = await progress.follow(
                job, on_change=lambda partial: draw_cells(_finished_rows(partial, x, y, key))
            )
            draw_cells(result.rows)
            guards.object = _guards_html(result, key)
            if folds.value:
                walk_job = await run_blocking(
                    _submit,
                    chooser.value,
                    request,
                    space,
                    key,
                    folds.value,
                    len(grid),
                    settings,
                    busy=walk_equity,
                )
                walked: WalkForwardResult = await progress.follow(walk_job)
                bars = await run_blocking(
                    load,
                    request["data"],
                    timeframe=request["timeframe"],
                    start=request["start"],
                    end=request["end"],
                    settings=settings,
                    busy=walk_equity,
                )
                folds_table.object = _folds_frame(walked, key, bars.index)
                walk_equity.object = _walk_forward_equity(walked)

            notice.success(f"Sweep of {len(grid)} combinations finished.")

    run.on_click(start)
    return [
        pn.Row(chooser, market.layout),
        pn.Row(x_name, x_range, y_name, y_range),
        pn.Row(objective, folds, run),
        progress.layout,
        pn.Row(pn.Column(heatmap, evaluated), guards),
        walk_forward,
    ]


def _submit(
    strategy: str,
    request: dict[str, Any],
    space: dict[str, str],
    objective: str,
    folds: int | None,
    combinations: int,
    settings: Settings,
) -> Job:
    if not request["data"]:
        raise InvalidInputError("enter a symbol as SOURCE:SYMBOL, e.g. sample:BTC/USDT")
    return sweep(
        strategy,
        request["data"],
        space,
        objective=objective,
        walk_forward=folds,
        timeframe=request["timeframe"],
        start=request["start"],
        end=request["end"],
        chunk_size=max(1, math.ceil(combinations / CHUNKS)),
        lot_size=1e-8,
        commission=0.001,
        settings=settings,
    )


def _finished_rows(job: Job, x: str, y: str, objective: str) -> pd.DataFrame:
    rows = [
        {x: row.parameters[x], y: row.parameters[y], objective: row.stats.get(objective)}
        for _, chunk in job.partial_results()
        for row in chunk
    ]
    return pd.DataFrame(rows, columns=[x, y, objective])


def _heatmap(cells: pd.DataFrame, x: str, y: str, objective: str) -> Any:
    shown = cells.assign(**{x: cells[x].astype(str), y: cells[y].astype(str)})
    return hv.HeatMap(shown, kdims=[x, y], vdims=[objective]).opts(
        width=HEATMAP_WIDTH,
        height=420,
        cmap="RdYlGn" if objective != "max_drawdown_pct" else "RdYlGn_r",
        colorbar=True,
        tools=["hover"],
        clipping_colors={"NaN": "#eeeeee"},
        title=f"{objective} by {x} and {y}",
        xrotation=0,
    )


def _guards_html(result: SweepResult, objective: str) -> str:
    lines = [("Combinations evaluated", f"{len(result.rows) - result.skipped}")]
    lines.append(("Skipped by the strategy", str(result.skipped)))
    if result.best_parameters is not None:
        best = ", ".join(f"{name}={value}" for name, value in result.best_parameters.items())
        stats = result.best_stats or {}
        lines.append(("Best", f"{best} ({objective} {format_stat(stats.get(objective))})"))
    deflated = result.deflated_sharpe
    lines.append(
        (
            "Deflated Sharpe ratio",
            format_stat(deflated.deflated_sharpe_ratio)
            if deflated is not None
            else result.deflated_sharpe_reason or "n/a",
        )
    )
    overfitting = result.overfitting
    lines.append(
        (
            "Probability of backtest overfitting",
            format_stat(overfitting.probability)
            if overfitting is not None
            else result.overfitting_reason or "n/a",
        )
    )
    rows = "".join(
        f"<tr><td style='color:#555; padding-right: 1em'>{html.escape(label)}</td>"
        f"<td>{html.escape(value)}</td></tr>"
        for label, value in lines
    )
    return f"<h4>Overfitting guards</h4><table class='quantdesk-guards'>{rows}</table>"


def _folds_frame(result: WalkForwardResult, objective: str, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "fold": fold.window.fold,
                "in-sample bars": f"{index[fold.window.in_start]:%Y-%m-%d} to "
                f"{index[fold.window.in_stop - 1]:%Y-%m-%d}",
                "out-of-sample bars": f"{index[fold.window.out_start]:%Y-%m-%d} to "
                f"{index[fold.window.out_stop - 1]:%Y-%m-%d}",
                "chosen": ", ".join(f"{k}={v}" for k, v in (fold.parameters or {}).items())
                or "none (cash)",
                "in sample": format_stat(fold.in_sample_stats.get(objective)),
                "out of sample": format_stat(fold.out_of_sample_stats.get(objective)),
            }
            for fold in result.folds
        ],
        columns=list(FOLD_COLUMNS),
    )


def _walk_forward_equity(result: WalkForwardResult) -> Any:
    times = pd.DatetimeIndex(result.equity.index).tz_localize(None)
    return downsample1d(
        hv.Curve((times, result.equity.to_numpy(dtype=np.float64)), "time", "equity"),
        width=PAGE_WIDTH - 60,
    ).opts(
        title="Walk-forward: out-of-sample equity, folds chained",
        width=PAGE_WIDTH - 60,
        height=260,
        color="#1f77b4",
    )
