"""``quantdesk hub``: JupyterHub with a server per person, on the platform's database.

``up`` starts the database (as ``db up`` does) and the hub on 127.0.0.1, and
signs up the hub's first admin the first time, printing their password once;
it is idempotent. ``status`` reports the hub's address and health; ``down``
stops the hub, every person's server and the hub's services.
"""

from __future__ import annotations

from typing import Any

import click

from quantdesk.cli.output import emit, json_option


@click.group("hub")
def hub() -> None:
    """The hub: sign-up, admin approval and a Jupyter server per person."""


@hub.command("up")
@json_option
def up_command(as_json: bool) -> None:
    """Start the database and the hub; the first time, create and print its admin."""
    from quantdesk.api.database import start_database
    from quantdesk.config import Settings
    from quantdesk.hub import ensure_hub_admin, start_hub
    from quantdesk.hub.files import HubFiles

    settings = Settings.load()
    database = start_database(settings)
    state = start_hub(settings)
    admin = ensure_hub_admin(settings, state)
    credentials_file = HubFiles.of(settings).admin_credentials
    payload: dict[str, Any] = {
        "database": database.to_json(),
        "hub": state.to_json(),
        "admin": {
            "name": admin.name,
            "created": admin.created,
            "password": admin.password if admin.created else None,
            "credentials_file": str(credentials_file),
        },
    }
    mode = (
        "one OS account per person"
        if state.isolated
        else "NOT isolating people from each other (run as root to isolate them)"
    )
    password = (
        f"password {admin.password} (shown once; kept in {credentials_file})"
        if admin.created
        else f"password in {credentials_file}"
    )
    text = "\n".join(
        [
            f"database: {database.describe()}",
            f"hub: {state.url} (pid {state.pid}; {mode})",
            f"admin: {admin.name}, {password}",
        ]
    )
    emit(payload, as_json=as_json, text=text)


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
