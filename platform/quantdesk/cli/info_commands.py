"""Commands that describe quantdesk itself: its version and its settings."""

from __future__ import annotations

import platform
import sys

import click

from quantdesk import __version__
from quantdesk.cli.output import emit, json_option


@click.command("version")
@json_option
def version_command(as_json: bool) -> None:
    """Print quantdesk's version and the Python it runs on."""
    payload = {
        "quantdesk": __version__,
        "python": platform.python_version(),
        "executable": sys.executable,
    }
    emit(payload, as_json=as_json, text=f"quantdesk {__version__} (Python {payload['python']})")


@click.command("config")
@json_option
def config_command(as_json: bool) -> None:
    """Print the settings in effect, after the environment and config file."""
    from quantdesk.config import Settings

    settings = Settings.load()
    payload = {name: str(value) for name, value in settings.model_dump().items()}
    payload["resolved_cache_dir"] = str(settings.resolved_cache_dir)
    payload["resolved_database_dir"] = str(settings.resolved_database_dir)
    text = "\n".join(f"{name:<20} {value}" for name, value in payload.items())
    emit(payload, as_json=as_json, text=text)
