"""``quantdesk hub``: JupyterHub with a server per person, on the platform's database.

``up`` is ``quantdesk up``: the database and the hub on 127.0.0.1, and the
hub's first admin the first time, printing their password once; it is
idempotent. ``status`` reports the hub's address and health; ``down``
stops the hub, every person's server and the hub's services.
"""

from __future__ import annotations

import click

from quantdesk.cli.output import emit, json_option
from quantdesk.cli.platform_commands import up


@click.group("hub")
def hub() -> None:
    """The hub: sign-up, admin approval and a Jupyter server per person."""


# The hub needs the database, so starting it is starting the platform.
hub.add_command(up, "up")


@hub.command("status")
@json_option
def status_command(as_json: bool) -> None:
    """Show whether the hub runs and answers, and where."""
    from quantdesk.config import Settings
    from quantdesk.hub import hub_status

    status = hub_status(Settings.load())
    if not status.running:
        text = f"hub: not running (would be at {status.url}; 'quantdesk hub up' starts it)"
    else:
        health = "healthy" if status.healthy else "NOT answering (see data_dir/hub/hub.log)"
        text = f"hub: {status.url}, pid {status.pid}, {health}"
    emit(status.to_json(), as_json=as_json, text=text)


@hub.command("down")
@json_option
def down_command(as_json: bool) -> None:
    """Stop the hub, every person's server and the hub's services."""
    from quantdesk.config import Settings
    from quantdesk.hub import stop_hub

    stopped = stop_hub(Settings.load())
    text = f"hub stopped (pid {stopped.pid})" if stopped is not None else "no hub was running"
    emit({"stopped": stopped is not None}, as_json=as_json, text=text)
