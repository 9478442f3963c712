"""``quantdesk runs``: list, show and remove your saved backtest runs."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import click

from quantdesk.cli.output import (
    aligned_lines,
    emit,
    json_option,
    plain_value,
    shown_value,
    table_text,
)

if TYPE_CHECKING:
    from quantdesk.api.runs import RunInfo


@click.group("runs")
def runs() -> None:
    """Saved backtest runs; save one with 'quantdesk backtest ... --save'. Only you see yours."""


@runs.command("list")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Show at most this many runs, newest first; 100 unless given.",
)
@click.option("--all", "every_run", is_flag=True, help="Show every run, however many.")
@json_option
def list_command(limit: int | None, every_run: bool, as_json: bool) -> None:
    """List your saved runs, newest first."""
    from quantdesk.api.runs import list_runs

    if every_run:
        found = list_runs(limit=None)
    elif limit is not None:
        found = list_runs(limit=limit)
    else:
        found = list_runs()
    header = ("id", "name", "strategy", "data", "saved", "bars", "trades", "final equity")
    rows = [
        (
            str(info.id),
            info.name or "",
            info.strategy or "",
            _data_text(info),
            f"{info.created_at:%Y-%m-%d %H:%M}",
            str(info.bar_count),
            str(info.trade_count),
            shown_value(info.final_equity),
        )
        for info in found
    ]
    text = (
        table_text(header, rows)
        if rows
        else "no saved runs; save one with 'quantdesk backtest STRATEGY --data ADDRESS --save'"
    )
    emit([info.to_json() for info in found], as_json=as_json, text=text)


@runs.command("show")
@click.argument("run_id")
@json_option
def show_command(run_id: str, as_json: bool) -> None:
    """Show saved run RUN_ID: what ran on which data, its parameters, rules and statistics."""
    from quantdesk.api.runs import load_run

    run = load_run(run_id)
    info = run.run_info
    position = (
        None if run.open_position is None else _plain_mapping(dataclasses.asdict(run.open_position))
    )
    payload = {
        **info.to_json(),
        "parameters": _plain_mapping(run.parameters),
        "config": _plain_mapping(run.config.model_dump()),
        "stats": _plain_mapping(dict(run.stats)),
        "open_position": position,
    }
    span = (
        ""
        if info.start_time is None or info.end_time is None
        else f", {info.start_time:%Y-%m-%d %H:%M} to {info.end_time:%Y-%m-%d %H:%M} UTC"
    )
    lines = [
        f"run {info.id}" + ("" if info.name is None else f" ({info.name})"),
        f"{info.strategy or 'signals'} on {_data_text(info) or 'a frame'}{span}: "
        f"{info.bar_count} bars, {info.trade_count} closed trades",
        f"saved {info.created_at:%Y-%m-%d %H:%M:%S} UTC by engine version {info.engine_version}; "
        f"data fingerprint {info.data_fingerprint}",
    ]
    sections: list[tuple[str, dict[str, Any] | None, bool]] = [
        ("parameters", run.parameters, True),
        ("rules", run.config.model_dump(), True),
        ("statistics", dict(run.stats), False),
        ("open position", position, False),
    ]
    for title, values, exact in sections:
        if values:
            lines += [
                "",
                f"{title}:",
                *(f"  {line}" for line in aligned_lines(values, exact=exact)),
            ]
    emit(payload, as_json=as_json, text="\n".join(lines))


@runs.command("rm")
@click.argument("run_id")
@json_option
def remove_command(run_id: str, as_json: bool) -> None:
    """Delete saved run RUN_ID with its equity curve and trades."""
    from quantdesk.api.runs import remove_run

    removed = str(remove_run(run_id))
    emit({"id": removed, "removed": True}, as_json=as_json, text=f"removed run {removed}")


def _data_text(info: RunInfo) -> str:
    if info.source is None or info.symbol is None:
        return ""
    timeframe = "" if info.timeframe is None else f" {info.timeframe}"
    return f"{info.source}:{info.symbol}{timeframe}"


def _plain_mapping(values: dict[str, Any]) -> dict[str, Any]:
    return {name: plain_value(value) for name, value in values.items()}
