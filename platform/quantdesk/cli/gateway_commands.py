"""``quantdesk gateway``: the Dask gateway that runs each user's own cluster.

``up`` starts it (as root each user's scheduler and workers run under their
own OS account); ``add-user`` gives an account a password; ``status`` shows
its address, backend and per-user limits; ``down`` stops it and every cluster.
"""

from __future__ import annotations

import click

from quantdesk.cli.output import emit, json_option

_MIB = 1024**2


def _limits_text(limits: dict[str, float]) -> str:
    return (
        f"per user: {limits['max_workers']:g} worker(s) x {limits['worker_cores']:g} core(s), "
        f"{limits['worker_memory_bytes'] / _MIB:,.0f} MiB each; "
        f"idle clusters stop after {limits['idle_timeout_seconds']:g} s"
    )


@click.group("gateway")
def gateway() -> None:
    """The Dask gateway: each user's own scheduler and workers."""


@gateway.command("up")
@click.option(
    "--address", default=None, help="Where it listens, host:port [default: 127.0.0.1:8000]."
)
@json_option
def up_command(address: str | None, as_json: bool) -> None:
    """Start the gateway; it runs until 'gateway down'."""
    from quantdesk.api.gateway import gateway_up
    from quantdesk.config import Settings

    record = gateway_up(Settings.load(), **({"address": address} if address else {}))
    text = (
        f"gateway up at {record.address} (backend {record.backend.rsplit('.', 1)[-1]}); "
        f"{_limits_text(record.limits.to_json())}; set QUANTDESK_GATEWAY={record.address}"
    )
    emit(record.to_json(), as_json=as_json, text=text)


@gateway.command("add-user")
@click.argument("user_name")
@json_option
def add_user_command(user_name: str, as_json: bool) -> None:
    """Give the OS account USER_NAME a new gateway password, printed once."""
    from quantdesk.api.gateway import add_gateway_user
    from quantdesk.config import Settings

    password = add_gateway_user(Settings.load(), user_name)
    emit(
        {"user": user_name, "password": password},
        as_json=as_json,
        text=f"QUANTDESK_GATEWAY_USER={user_name} QUANTDESK_GATEWAY_PASSWORD={password}",
    )


@gateway.command("status")
@json_option
def status_command(as_json: bool) -> None:
    """Show the gateway's address, backend and per-user limits."""
    from quantdesk.api.gateway import gateway_status
    from quantdesk.config import Settings

    record = gateway_status(Settings.load())
    text = (
        f"gateway at {record.address}, pid {record.pid}, backend {record.backend}\n"
        f"{_limits_text(record.limits.to_json())}"
    )
    emit(record.to_json(), as_json=as_json, text=text)


@gateway.command("down")
@json_option
def down_command(as_json: bool) -> None:
    """Stop the gateway and every cluster it runs."""
    from quantdesk.api.gateway import gateway_down
    from quantdesk.config import Settings

    record = gateway_down(Settings.load())
    emit(
        {"stopped": True, **record.to_json()},
        as_json=as_json,
        text=f"gateway down: stopped the gateway at {record.address}",
    )
