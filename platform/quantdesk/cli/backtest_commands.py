"""``quantdesk backtest`` and ``quantdesk strategies``."""

from __future__ import annotations

from typing import Any

import click

from quantdesk.cli.output import (
    aligned_lines,
    configure_logging,
    emit,
    json_option,
    plain_value,
)


@click.command("backtest")
@click.argument("strategy")
@click.option(
    "--data", "address", required=True, help="SOURCE:SYMBOL, e.g. sample:BTC/USDT or csv:goog.csv."
)
@click.option(
    "--timeframe",
    "-t",
    default=None,
    help="Bar length from 1m to 1w, or 1M (a calendar month), e.g. 1h.",
)
@click.option("--start", default=None, help="First bar time included (ISO, UTC).")
@click.option("--end", default=None, help="First bar time excluded (ISO, UTC).")
@click.option(
    "--parameter",
    "-p",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="A strategy parameter; repeat for several, e.g. -p fast=10 -p slow=20.",
)
@click.option("--cash", type=float, default=10_000.0, show_default=True, help="Starting cash.")
@click.option(
    "--commission",
    type=float,
    default=0.0,
    show_default=True,
    help="Commission rate per side, e.g. 0.002.",
)
@click.option(
    "--lot-size",
    type=float,
    default=1.0,
    show_default=True,
    help="Smallest tradable quantity: 1 for stocks, e.g. 1e-8 for crypto.",
)
@click.option(
    "--fixed-fee", type=float, default=None, help="Fee in cash on every filled order (default 0)."
)
@click.option(
    "--slippage",
    type=float,
    default=None,
    help="Fraction of price every market fill is worse by, e.g. 0.0005 (default 0).",
)
@click.option(
    "--sizing",
    default=None,
    help="How entries are sized: all_in (default), units, cash or equity_fraction (with --size).",
)
@click.option(
    "--size",
    type=float,
    default=None,
    help="Units, cash or equity fraction per entry, for --sizing units, cash or equity_fraction.",
)
@click.option(
    "--margin",
    type=float,
    default=None,
    help="Share of a position's value put up, in (0, 1]: 0.5 is 2:1 leverage [default: 1].",
)
@click.option(
    "--trade-on-close", is_flag=True, help="Fill orders at the signal bar's close, not next open."
)
@click.option(
    "--finalize-trades", is_flag=True, help="Close a position still open at the last close."
)
@click.option(
    "--stop-loss",
    type=float,
    default=None,
    help="Stop-loss as a fraction of the entry price, e.g. 0.05, where the strategy sets none.",
)
@click.option(
    "--take-profit",
    type=float,
    default=None,
    help="Take-profit as a fraction of the entry price, e.g. 0.1, where the strategy sets none.",
)
@click.option(
    "--trailing-stop",
    type=float,
    default=None,
    help="Trailing stop as a fraction of the entry price, where the strategy sets none.",
)
@click.option(
    "--periods-per-year",
    type=float,
    default=None,
    help="Return periods per year for annualised stats (default 365 crypto, 252 stocks).",
)
@click.option(
    "--risk-free-rate",
    type=float,
    default=None,
    help="Annual risk-free rate for the Sharpe and Sortino ratios, e.g. 0.04 [default: 0].",
)
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
    config = BacktestConfig(
        **{option: value for option, value in engine_options.items() if value is not None}
    )
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
