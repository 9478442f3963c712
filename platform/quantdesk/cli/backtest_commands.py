"""``quantdesk backtest`` and ``quantdesk strategies``."""

from __future__ import annotations

from typing import Any

import click

from quantdesk.cli.engine_options import (
    data_options,
    engine_config,
    engine_options,
    parameter_option,
)
from quantdesk.cli.output import (
    aligned_lines,
    configure_logging,
    emit,
    json_option,
    plain_value,
)


@click.command("backtest")
@click.argument("strategy")
@data_options
@parameter_option(
    metavar="NAME=VALUE",
    help="A strategy parameter; repeat for several, e.g. -p fast=10 -p slow=20.",
)
@engine_options
@click.option("--save", is_flag=True, help="Save the run in the database and print its id.")
@click.option("--name", default=None, help="A label for the saved run (implies --save).")
@json_option
def backtest_command(
    strategy: str,
    address: str,
    timeframe: str | None,
    start: str | None,
    end: str | None,
    assignments: tuple[str, ...],
    save: bool,
    name: str | None,
    as_json: bool,
    **engine_options: Any,
) -> None:
    """Backtest STRATEGY (a name from 'quantdesk strategies' or module:Class) on --data.

    The engine options (--cash through --risk-free-rate) are BacktestConfig
    fields; strategy parameters are given with -p, so the two never mix.
    """
    from quantdesk.api.backtest import BacktestConfig, backtest
    from quantdesk.api.strategies import strategy_from_text
    from quantdesk.config import Settings

    settings = Settings.load()
    configure_logging(settings.log_level)
    chosen = strategy_from_text(strategy, assignments)
    config = engine_config(BacktestConfig, engine_options)
    result = backtest(
        chosen,
        address,
        config=config,
        timeframe=timeframe,
        start=start,
        end=end,
        settings=settings,
    )
    stats = {name: plain_value(value) for name, value in result.stats.items()}
    trades = [
        {column: plain_value(value) for column, value in row.items()}
        for row in result.trades.to_dict(orient="records")
    ]
    lines = [f"{chosen!r} on {address}: {len(result.equity)} bars, {len(trades)} closed trades"]
    payload: dict[str, Any] = {"stats": stats, "trades": trades}
    if save or name is not None:
        from quantdesk.api.runs import save_run

        saved = save_run(result, name=name, settings=settings)
        payload["run_id"] = str(saved.id)
        lines.append(f"saved as run {saved.id}")
    text = "\n".join([*lines, "", *aligned_lines(dict(result.stats))])
    emit(payload, as_json=as_json, text=text)


@click.command("strategies")
@json_option
def strategies_command(as_json: bool) -> None:
    """List the strategies with their parameters, defaults and bounds."""
    from quantdesk.api.strategies import available_strategies

    described = [strategy.describe() for strategy in available_strategies().values()]
    lines = []
    for item in described:
        lines.append(f"{item['name']}: {item.get('description', '')}")
        for parameter in item["parameters"]:
            bounds = _bounds(parameter)
            lines.append(f"    {parameter['name']} = {parameter['default']!r}{bounds}")
    emit(described, as_json=as_json, text="\n".join(lines))


def _bounds(parameter: dict[str, Any]) -> str:
    low, high = parameter.get("minimum"), parameter.get("maximum")
    if low is None and high is None:
        return ""
    return f"  [{'' if low is None else low} .. {'' if high is None else high}]"
