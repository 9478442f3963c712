"""The options of every command that runs the engine: the bars to load, the trading rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

Command = TypeVar("Command", bound=Callable[..., Any])

_DATA_OPTIONS = [
    click.option(
        "--data",
        "address",
        required=True,
        help="SOURCE:SYMBOL, e.g. sample:BTC/USDT or csv:goog.csv.",
    ),
    click.option(
        "--timeframe",
        "-t",
        default=None,
        help="Bar length from 1m to 1w, or 1M (a calendar month), e.g. 1h.",
    ),
    click.option("--start", default=None, help="First bar time included (ISO, UTC)."),
    click.option("--end", default=None, help="First bar time excluded (ISO, UTC)."),
]
_ENGINE_OPTIONS = [
    click.option("--cash", type=float, default=10_000.0, show_default=True, help="Starting cash."),
    click.option(
        "--commission",
        type=float,
        default=0.0,
        show_default=True,
        help="Commission rate per side, e.g. 0.002.",
    ),
    click.option(
        "--lot-size",
        type=float,
        default=1.0,
        show_default=True,
        help="Smallest tradable quantity: 1 for stocks, e.g. 1e-8 for crypto.",
    ),
    click.option(
        "--fixed-fee",
        type=float,
        default=None,
        help="Fee in cash on every filled order (default 0).",
    ),
    click.option(
        "--slippage",
        type=float,
        default=None,
        help="Fraction of price every market fill is worse by, e.g. 0.0005 (default 0).",
    ),
    click.option(
        "--sizing",
        default=None,
        help=(
            "How entries are sized: all_in (default), units, cash or equity_fraction (with --size)."
        ),
    ),
    click.option(
        "--size",
        type=float,
        default=None,
        help=(
            "Units, cash or equity fraction per entry, for --sizing units, cash or equity_fraction."
        ),
    ),
    click.option(
        "--margin",
        type=float,
        default=None,
        help="Share of a position's value put up, in (0, 1]: 0.5 is 2:1 leverage [default: 1].",
    ),
    click.option(
        "--trade-on-close",
        is_flag=True,
        help="Fill orders at the signal bar's close, not next open.",
    ),
    click.option(
        "--finalize-trades", is_flag=True, help="Close a position still open at the last close."
    ),
    click.option(
        "--stop-loss",
        type=float,
        default=None,
        help="Stop-loss as a fraction of the entry price, e.g. 0.05, where the strategy sets none.",
    ),
    click.option(
        "--take-profit",
        type=float,
        default=None,
        help=(
            "Take-profit as a fraction of the entry price, e.g. 0.1, where the strategy sets none."
        ),
    ),
    click.option(
        "--trailing-stop",
        type=float,
        default=None,
        help="Trailing stop as a fraction of the entry price, where the strategy sets none.",
    ),
    click.option(
        "--periods-per-year",
        type=float,
        default=None,
        help="Return periods per year for annualised stats (default 365 crypto, 252 stocks).",
    ),
    click.option(
        "--risk-free-rate",
        type=float,
        default=None,
        help="Annual risk-free rate for the Sharpe and Sortino ratios, e.g. 0.04 [default: 0].",
    ),
]


def data_options(command: Command) -> Command:
    """Add ``--data``, ``--timeframe``, ``--start`` and ``--end``."""
    for option in reversed(_DATA_OPTIONS):
        command = option(command)
    return command


def engine_options(command: Command) -> Command:
    """Add the ``BacktestConfig`` fields, ``--cash`` through ``--risk-free-rate``."""
    for option in reversed(_ENGINE_OPTIONS):
        command = option(command)
    return command


def engine_config(config_class: type[Any], options: Mapping[str, Any]) -> Any:
    """The trading rules from the options given; those left out keep their defaults."""
    return config_class(**{name: value for name, value in options.items() if value is not None})


def parameter_option(
    *, metavar: str, help: str, required: bool = False
) -> Callable[[Command], Command]:
    """``--parameter``/``-p``, repeatable, gathered as ``assignments``."""
    return click.option(
        "--parameter",
        "-p",
        "assignments",
        multiple=True,
        required=required,
        metavar=metavar,
        help=help,
    )
