"""How the CLI speaks: JSON for machines, short lines for people, one line per error."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable, Mapping
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


def configure_logging(level: str) -> None:
    """Send quantdesk's log records to stderr as one line each, at ``level``.

    Parameters
    ----------
    level
        A logging level name such as ``"INFO"``, usually ``settings.log_level``.
    """
    logger = logging.getLogger("quantdesk")
    logger.setLevel(level)
    if not any(getattr(handler, "quantdesk_cli", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("quantdesk: %(levelname)s: %(message)s"))
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
