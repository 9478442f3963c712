"""How the CLI speaks: JSON for machines, short lines for people, one line per error."""

from __future__ import annotations

import json
import logging
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO, TypeVar

import click

CommandFunction = TypeVar("CommandFunction", bound=Callable[..., Any])

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object for machines instead of text."
)


def emit(payload: Mapping[str, Any] | list[Any], *, as_json: bool, text: str) -> None:
    """Print ``payload`` as JSON, or ``text`` for a person.

    Parameters
    ----------
    payload
        What a machine reads.
    as_json
        Print JSON when true.
    text
        What a person reads.
    """
    if as_json:
        click.echo(json.dumps(payload, default=str))
    else:
        click.echo(text)


def plain_value(value: Any) -> Any:
    """A JSON-ready value: times as ISO text, durations as text, NaN and infinities as None.

    Parameters
    ----------
    value
        A number, numpy scalar, time, duration, text or None.

    Returns
    -------
    Any
        A value ``json.dumps`` writes as standard JSON.
    """
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "total_seconds"):
        return str(value)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def shown_value(value: Any) -> str:
    """A value as a person reads it: floats with four decimals, ``inf`` or ``-inf``, NaN as ``n/a``.

    A ruined run's ratios are ``-inf`` (see :mod:`quantdesk.engine.stats`),
    which must read differently from an undefined one.

    Parameters
    ----------
    value
        Any value.

    Returns
    -------
    str
        Its text.
    """
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:,.4f}"
    return "n/a" if value is None else str(value)


def aligned_lines(values: Mapping[str, Any], *, exact: bool = False) -> list[str]:
    """Names and values, one pair a line, the values aligned.

    Parameters
    ----------
    values
        Names and values.
    exact
        Show values as they are (``1e-08``) instead of with :func:`shown_value`.

    Returns
    -------
    list of str
        One line per pair.
    """
    width = max((len(name) for name in values), default=0)
    return [
        f"{name:<{width}}  {value if exact and value is not None else shown_value(value)}"
        for name, value in values.items()
    ]


def table_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows of text as aligned columns under a header.

    Parameters
    ----------
    header
        The column titles.
    rows
        One sequence of cells per row, as many as the header has.

    Returns
    -------
    str
        The lines, each column padded to its widest cell.
    """
    lines = [header, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def report_error(message: str, *, as_json: bool, stream: TextIO | None = None) -> None:
    """Write one error line to stderr, as text or as a JSON object.

    Parameters
    ----------
    message
        The error; only its first line is kept.
    as_json
        Write ``{"error": message}`` instead of ``quantdesk: error: message``.
    stream
        Where to write; stderr by default.
    """
    stream = stream if stream is not None else sys.stderr
    first_line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    if as_json:
        stream.write(json.dumps({"error": first_line}) + "\n")
    else:
        stream.write(f"quantdesk: error: {first_line}\n")


def configure_logging(level: str, *, timestamps: bool = False) -> None:
    """Send quantdesk's log records to stderr as one line each, at ``level``.

    Parameters
    ----------
    level
        A logging level name such as ``"INFO"``, usually ``settings.log_level``.
    timestamps
        Start each line with the time, for long-running commands.
    """
    logger = logging.getLogger("quantdesk")
    logger.setLevel(level)
    if not any(getattr(handler, "quantdesk_cli", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        when = "%(asctime)s " if timestamps else ""
        handler.setFormatter(logging.Formatter(when + "quantdesk: %(levelname)s: %(message)s"))
        handler.quantdesk_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def show_warnings_as_lines() -> None:
    """Print warnings as one ``quantdesk: warning: …`` line on stderr."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
        (file or sys.stderr).write(f"quantdesk: warning: {text}\n")

    warnings.showwarning = show
