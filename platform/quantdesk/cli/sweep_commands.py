"""``quantdesk sweep``: search a strategy's parameters on the cluster, or walk forward over them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from quantdesk.cli.engine_options import (
    data_options,
    engine_config,
    engine_options,
    parameter_option,
)
from quantdesk.cli.output import configure_logging, emit, json_option, shown_value, table_text

if TYPE_CHECKING:
    from quantdesk.api.research import SweepResult, WalkForwardResult

TOP_ROWS = 10
"""How many of the best combinations the text output lists."""


@click.command("sweep")
@click.argument("strategy")
@data_options
@parameter_option(
    metavar="NAME=VALUES",
    help="A swept parameter: START:STOP:STEP (STOP included) or a list, e.g. -p fast=5:50:5 "
    "-p slow=20,40; a single value fixes it.",
    required=True,
)
@click.option(
    "--objective",
    default="sharpe",
    show_default=True,
    help="The statistic the best combination maximises (see 'quantdesk backtest --json').",
)
@click.option("--minimise", is_flag=True, help="Minimise the objective instead.")
@click.option(
    "--constraint",
    "constraints",
    multiple=True,
    metavar="'KEY OP NUMBER'",
    help="A condition the best must meet, e.g. --constraint 'n_trades >= 10'; repeatable.",
)
@click.option(
    "--random",
    "random_count",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate this many combinations sampled from the grid instead of all.",
)
@click.option("--seed", type=int, default=None, help="Makes --random repeatable.")
@click.option(
    "--walk-forward",
    "folds",
    type=click.IntRange(min=1),
    default=None,
    help="Walk-forward optimisation over this many folds instead of one sweep.",
)
@click.option(
    "--anchored", is_flag=True, help="With --walk-forward: in-sample windows all start at bar 0."
)
@click.option(
    "--in-sample-fraction",
    type=click.FloatRange(min=0.0, max=1.0, min_open=True, max_open=True),
    default=None,
    help="With --walk-forward: each fold's in-sample share of its bars.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Combinations per task [default: a few chunks per worker thread].",
)
@engine_options
@click.option("--no-progress", is_flag=True, help="Draw no progress bar.")
@json_option
def sweep_command(
    strategy: str,
    address: str,
    timeframe: str | None,
    start: str | None,
    end: str | None,
    assignments: tuple[str, ...],
    objective: str,
    minimise: bool,
    constraints: tuple[str, ...],
    random_count: int | None,
    seed: int | None,
    folds: int | None,
    anchored: bool,
    in_sample_fraction: float | None,
    chunk_size: int | None,
    no_progress: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Sweep STRATEGY's parameters (-p) on --data, on the cluster, as a job.

    The cluster is QUANTDESK_SCHEDULER's, the one 'quantdesk cluster up'
    started, or a local one for this command. With a database configured the
    job and its results are kept ('quantdesk jobs show ID').
    """
    from quantdesk.api.backtest import BacktestConfig
    from quantdesk.api.research import Objective, WalkForwardResult, sweep
    from quantdesk.config import Settings

    settings = Settings.load()
    configure_logging(settings.log_level)
    if (anchored or in_sample_fraction is not None) and folds is None:
        raise click.UsageError("--anchored and --in-sample-fraction need --walk-forward FOLDS")
    job = sweep(
        strategy,
        address,
        list(assignments),
        objective=Objective(key=objective, direction="minimise" if minimise else "maximise"),
        constraints=list(constraints),
        random=random_count,
        seed=seed,
        walk_forward=folds,
        anchored=anchored,
        in_sample_fraction=in_sample_fraction,
        config=engine_config(BacktestConfig, options),
        timeframe=timeframe,
        start=start,
        end=end,
        chunk_size=chunk_size,
        settings=settings,
    )
    job.wait(progress_bar=not (no_progress or as_json))
    result = job.result()
    payload = {"job_id": str(job.id), **result.to_dict()}
    header = f"{strategy} on {address}: job {job.id}"
    if isinstance(result, WalkForwardResult):
        text = _walk_forward_text(header, result)
    else:
        text = _sweep_text(header, result)
    emit(payload, as_json=as_json, text=text)


def _sweep_text(header: str, result: SweepResult) -> str:
    key = result.objective.key
    ran = result.rows[~result.rows["skipped"]]
    ranked = ran.sort_values(
        key, ascending=result.objective.direction == "minimise", na_position="last"
    )
    columns = [*result.parameter_names, key, "n_trades", "total_return_pct", "max_drawdown_pct"]
    shown_columns = list(dict.fromkeys(columns))
    rows = [
        [shown_value(row[column]) for column in shown_columns]
        for _, row in ranked.head(TOP_ROWS).iterrows()
    ]
    lines = [
        header,
        f"{len(result.rows)} combinations, {len(ran)} run, {result.skipped} skipped",
        "",
        table_text(shown_columns, rows) if rows else "no combination ran",
        "",
        f"best ({result.objective.direction} {key}): "
        + (
            "none met the constraints"
            if result.best_parameters is None
            else ", ".join(f"{name}={value}" for name, value in result.best_parameters.items())
        ),
        *_guard_lines(result),
    ]
    return "\n".join(lines)


def _guard_lines(result: SweepResult) -> list[str]:
    deflated, overfitting = result.deflated_sharpe, result.overfitting
    return [
        "deflated Sharpe ratio of the best: "
        + (
            f"{deflated.deflated_sharpe_ratio:.3f} (the chance its true Sharpe beats the "
            f"expected best of {deflated.trials} trials without skill)"
            if deflated is not None
            else f"n/a ({result.deflated_sharpe_reason})"
        ),
        "probability of backtest overfitting: "
        + (
            f"{overfitting.probability:.3f} (CSCV, {overfitting.blocks} blocks, "
            f"{overfitting.splits} splits)"
            if overfitting is not None
            else f"n/a ({result.overfitting_reason})"
        ),
    ]


def _walk_forward_text(header: str, result: WalkForwardResult) -> str:
    key = result.objective.key
    index = result.equity.index
    first = result.folds[0].window.out_start if result.folds else 0
    rows = []
    for fold in result.folds:
        window = fold.window
        rows.append(
            [
                str(window.fold),
                f"{window.in_stop - window.in_start}",
                f"{index[window.out_start - first]:%Y-%m-%d %H:%M}",
                "in cash"
                if fold.parameters is None
                else ", ".join(f"{name}={value}" for name, value in fold.parameters.items()),
                shown_value(fold.in_sample_stats.get(key)),
                shown_value(fold.out_of_sample_stats.get(key)),
            ]
        )
    lines = [
        header,
        f"{len(result.folds)} folds",
        "",
        table_text(
            ["fold", "in-sample bars", "out of sample from", "chosen", f"in {key}", f"out {key}"],
            rows,
        ),
        "",
        f"stitched out-of-sample equity: {shown_value(float(result.equity.iloc[-1]))}",
    ]
    return "\n".join(lines)
