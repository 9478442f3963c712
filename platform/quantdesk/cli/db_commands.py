"""``quantdesk db``: the database server and its schema.

``up``, ``down``, ``status`` and ``url`` manage the embedded server; with
``QUANTDESK_ADMIN_DATABASE_URL`` set they report on the external server
instead. ``migrate`` brings the schema up to date, ``check`` lints it.
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
    """Create and start the embedded server if needed, then migrate the schema."""
    from quantdesk.config import Settings
    from quantdesk.store.startup import start_database

    ready = start_database(Settings.load())
    emit(ready.to_json(), as_json=as_json, text=f"database up: {ready.describe()}")


@db.command("down")
@json_option
def down_command(as_json: bool) -> None:
    """Stop the embedded server (a no-op when it is not running)."""
    from quantdesk.config import Settings
    from quantdesk.store.server import EmbeddedPostgres

    settings = Settings.load()
    _refuse_external(settings.admin_database_url is not None, "stop")
    stopped = EmbeddedPostgres(settings).down()
    text = "database stopped" if stopped else "database was not running"
    emit({"stopped": stopped}, as_json=as_json, text=text)


@db.command("status")
@json_option
@click.pass_context
def status_command(context: click.Context, as_json: bool) -> None:
    """Show whether the embedded server exists and runs; exit 1 when it is not running."""
    from quantdesk.config import Settings
    from quantdesk.store.server import EmbeddedPostgres

    settings = Settings.load()
    _refuse_external(settings.admin_database_url is not None, "report on")
    status = EmbeddedPostgres(settings).status()
    if not status.initialized:
        text = f"no database in {status.directory} yet; run 'quantdesk db up'"
    else:
        state = "running" if status.running else "stopped (run 'quantdesk db up')"
        text = f"database {state}: {status.directory}, 127.0.0.1:{status.port}, as {status.account}"
    emit(status.to_json(), as_json=as_json, text=text)
    if not status.running:
        context.exit(1)


@db.command("url")
@json_option
def url_command(as_json: bool) -> None:
    """Print the admin (manager role) URL, password included; keep it private."""
    from quantdesk.config import Settings
    from quantdesk.store.connection import admin_url

    url = admin_url(Settings.load()).set(drivername="postgresql")
    shown = url.render_as_string(hide_password=False)
    emit({"admin_database_url": shown}, as_json=as_json, text=shown)


@db.command("migrate")
@json_option
def migrate_command(as_json: bool) -> None:
    """Apply the schema migrations the database lacks (safe to re-run)."""
    from quantdesk.config import Settings
    from quantdesk.store.connection import admin_url
    from quantdesk.store.migrate import migrate

    settings = Settings.load()
    outcome = migrate(
        admin_url(settings), lock_timeout_seconds=settings.migration_lock_timeout_seconds
    )
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
    from quantdesk.store.server import bootstrap_script

    click.echo(bootstrap_script(), nl=False)


db.add_command(check_command)


def _refuse_external(external: bool, verb: str) -> None:
    if external:
        raise ConfigurationError(
            f"QUANTDESK_ADMIN_DATABASE_URL points at an external server, which quantdesk does "
            f"not {verb}; unset it to use the embedded one"
        )
