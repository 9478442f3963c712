"""``quantdesk up``, ``down`` and ``status``: the whole platform on this machine.

``up`` starts the embedded database (created and migrated on first use),
gives the person running it a database user for work outside the hub, and
starts JupyterHub on 127.0.0.1 with its services, the Dask gateway and the idle
culler, then returns; the first time it signs up the hub's admin and prints
their password once (kept in a 0600 file). It is idempotent. ``down`` stops
the hub (every person's server and the services with it), the long-lived
local cluster if one is up, and the database. ``status`` reports each part,
its address and its health.
"""

from __future__ import annotations

from typing import Any

import click

from quantdesk.cli.output import emit, json_option


@click.command("up")
@json_option
def up(as_json: bool) -> None:
    """Start the platform: the database and the hub on 127.0.0.1; the first time, its admin."""
    from quantdesk.api.database import start_database
    from quantdesk.api.users import ensure_local_user
    from quantdesk.config import Settings
    from quantdesk.hub import ensure_hub_admin, start_hub
    from quantdesk.hub.files import HubFiles
    from quantdesk.hub.services import gateway_address

    settings = Settings.load()
    database = start_database(settings)
    local_user = ensure_local_user(settings)
    state = start_hub(settings)
    admin = ensure_hub_admin(settings, state)
    credentials_file = HubFiles.of(settings).admin_credentials
    payload: dict[str, Any] = {
        "database": {**database.to_json(), "local_user": local_user.name},
        "hub": state.to_json(),
        "gateway": {"url": gateway_address(settings)},
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
            f"database: {database.describe()}; your database user outside the hub: "
            f"{local_user.name} (its URL in {settings.local_credentials_file})",
            f"hub: {state.url} (pid {state.pid}; {mode})",
            f"admin: {admin.name}, {password}",
            f"next: open {state.url}/hub/login; people sign up at {state.url}/hub/signup "
            f"and you approve them at {state.url}/hub/authorize",
        ]
    )
    emit(payload, as_json=as_json, text=text)


@click.command("down")
@json_option
def down(as_json: bool) -> None:
    """Stop the platform: the hub with every server and service, the local cluster, the database."""
    from quantdesk.config import Settings
    from quantdesk.hub.platform_parts import stop_platform

    stopped = stop_platform(Settings.load())
    lines = [
        f"hub stopped (pid {stopped.hub_pid})" if stopped.hub_pid else "no hub was running",
        "local cluster stopped" if stopped.cluster else "no local cluster was up",
        "database stopped" if stopped.database else "the database was not running",
    ]
    payload = {
        "hub_stopped": stopped.hub_pid is not None,
        "cluster_stopped": stopped.cluster,
        "database_stopped": stopped.database,
    }
    emit(payload, as_json=as_json, text="\n".join(lines))


@click.command("status")
@json_option
def status(as_json: bool) -> None:
    """Report each part of the platform: running or not, its address and its health."""
    from quantdesk.config import Settings
    from quantdesk.hub.platform_parts import platform_status

    parts = platform_status(Settings.load())
    lines = [
        f"{name:>9}: {part['state']}{' at ' + part['address'] if part.get('address') else ''}"
        for name, part in parts.items()
    ]
    emit(parts, as_json=as_json, text="\n".join(lines))
