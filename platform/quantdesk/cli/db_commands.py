"""``quantdesk db``: the database server and its schema.

``up``, ``down``, ``status`` and ``url`` manage the embedded server (``up``
also starts its watchdog, ``down`` stops it); with
``QUANTDESK_ADMIN_DATABASE_URL`` set they report on the external server
instead. ``migrate`` brings the schema up to date, ``check`` lints it, and
``watchdog`` ends user sessions that hold others up.
"""

from __future__ import annotations

import click

from quantdesk.cli.output import emit, json_option
from quantdesk.cli.user_commands import check_command
from quantdesk.errors import ConfigurationError


@click.group("db")
def db() -> None:
    """The database: an embedded PostgreSQL server, or an external one."""


@db.command("up")
@json_option
def up_command(as_json: bool) -> None:
    """Create and start the embedded server and its watchdog if needed, then migrate."""
    from quantdesk.api.database import start_database
    from quantdesk.config import Settings

    ready = start_database(Settings.load())
    emit(ready.to_json(), as_json=as_json, text=f"database up: {ready.describe()}")


@db.command("down")
@json_option
def down_command(as_json: bool) -> None:
    """Stop the embedded server and its watchdog (a no-op when they are not running)."""
    from quantdesk.api.database import stop_database
    from quantdesk.config import Settings

    settings = Settings.load()
    _refuse_external(settings.admin_database_url is not None, "stop")
    stopped = stop_database(settings)
    text = "database stopped" if stopped.server else "database was not running"
    if stopped.watchdog:
        text += "; watchdog stopped"
    emit(
        {"stopped": stopped.server, "watchdog_stopped": stopped.watchdog},
        as_json=as_json,
        text=text,
    )


@db.command("status")
@json_option
@click.pass_context
def status_command(context: click.Context, as_json: bool) -> None:
    """Show whether the embedded server exists and runs; exit 1 when it is not running."""
    from quantdesk.api.database import database_status
    from quantdesk.config import Settings

    settings = Settings.load()
    _refuse_external(settings.admin_database_url is not None, "report on")
    found = database_status(settings)
    status, watchdog_pid = found.server, found.watchdog_pid
    if not status.initialized:
        text = f"no database in {status.directory} yet; run 'quantdesk db up'"
    else:
        state = "running" if status.running else "stopped (run 'quantdesk db up')"
        text = f"database {state}: {status.directory}, 127.0.0.1:{status.port}, as {status.account}"
        text += (
            f"; watchdog running (pid {watchdog_pid})"
            if watchdog_pid is not None
            else "; watchdog not running (run 'quantdesk db up')"
        )
    emit({**status.to_json(), "watchdog": watchdog_pid}, as_json=as_json, text=text)
    if not status.running:
        context.exit(1)


@db.command("url")
@json_option
def url_command(as_json: bool) -> None:
    """Print the admin (manager role) URL, password included; keep it private."""
    from quantdesk.api.database import admin_database_url
    from quantdesk.config import Settings

    shown = admin_database_url(Settings.load())
    emit({"admin_database_url": shown}, as_json=as_json, text=shown)


@db.command("migrate")
@json_option
def migrate_command(as_json: bool) -> None:
    """Apply the schema migrations the database lacks (safe to re-run)."""
    from quantdesk.api.database import migrate_database
    from quantdesk.config import Settings

    outcome = migrate_database(Settings.load())
    text = (
        f"migrated {outcome.before or 'empty database'} -> {outcome.after}"
        if outcome.changed
        else f"already at the newest revision {outcome.after}"
    )
    emit(
        {"before": outcome.before, "after": outcome.after, "changed": outcome.changed},
        as_json=as_json,
        text=text,
    )


@db.command("bootstrap-sql")
def bootstrap_sql_command() -> None:
    """Print the superuser SQL that prepares an external server for 'quantdesk db migrate'."""
    from quantdesk.api.database import bootstrap_script

    click.echo(bootstrap_script(), nl=False)


@db.command("watchdog")
@click.option(
    "--interval",
    type=float,
    default=None,
    help="Seconds between sweeps [default: watchdog_interval_seconds, 5].",
)
@click.option("--once", is_flag=True, help="Sweep once, print what it did, and exit.")
@click.option(
    "--blocking-seconds",
    type=float,
    default=None,
    help="End a user session that keeps another waiting this long "
    "[default: watchdog_blocking_seconds, 30].",
)
@click.option(
    "--idle-seconds",
    type=float,
    default=None,
    help="End a user session idle in a transaction this long "
    "[default: watchdog_idle_in_transaction_seconds, 600].",
)
# The process 'db up' starts beside the embedded server; it exits when that server is gone.
@click.option("--background", is_flag=True, hidden=True)
@json_option
def watchdog_command(
    interval: float | None,
    once: bool,
    blocking_seconds: float | None,
    idle_seconds: float | None,
    background: bool,
    as_json: bool,
) -> None:
    """End user sessions that block others or idle in a transaction too long.

    Each sweep also resets settings a user gave their own role. Runs in the
    foreground until stopped (Ctrl-C); 'quantdesk db up' runs it in the
    background for the embedded server.
    """
    import os
    import signal
    import threading

    from quantdesk.api.database import (
        BackgroundWatchdog,
        SweepReport,
        WatchdogLimits,
        sweep_sessions,
        watch_sessions,
    )
    from quantdesk.cli.output import configure_logging
    from quantdesk.config import Settings

    overrides = {
        "watchdog_interval_seconds": interval,
        "watchdog_blocking_seconds": blocking_seconds,
        "watchdog_idle_in_transaction_seconds": idle_seconds,
    }
    settings = Settings.load(
        **{name: value for name, value in overrides.items() if value is not None}
    )
    limits = WatchdogLimits.from_settings(settings)
    if once:
        report = sweep_sessions(settings)
        text = "\n".join(report.lines()) or "nothing to end, no role settings to reset"
        emit(report.to_json(), as_json=as_json, text=text)
        return
    configure_logging(settings.log_level, timestamps=True)
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    background_watchdog = BackgroundWatchdog(settings) if background else None

    def wait(seconds: float) -> bool:
        if stop.wait(seconds):
            return True
        return background_watchdog is not None and not background_watchdog.still_wanted(os.getpid())

    def show(report: SweepReport) -> None:
        if as_json and report.acted:
            emit(report.to_json(), as_json=True, text="")

    every = settings.watchdog_interval_seconds
    click.echo(
        f"watchdog: sweeping every {every:g} s (blocking limit {limits.blocking_seconds:g} s, "
        f"idle-in-transaction limit {limits.idle_in_transaction_seconds:g} s); Ctrl-C stops it",
        err=as_json,
    )
    sweeps = watch_sessions(settings, wait=wait, on_sweep=show)
    click.echo(f"watchdog: stopped after {sweeps} sweep(s)", err=as_json)


db.add_command(check_command)


def _refuse_external(external: bool, verb: str) -> None:
    if external:
        raise ConfigurationError(
            f"QUANTDESK_ADMIN_DATABASE_URL points at an external server, which quantdesk does "
            f"not {verb}; unset it to use the embedded one"
        )
