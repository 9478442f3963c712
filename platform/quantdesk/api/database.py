"""The database server and its schema: start, stop, report, migrate, lint and watch.

These are the workflows behind ``quantdesk db``. Those that connect do so as
the manager role, at ``QUANTDESK_ADMIN_DATABASE_URL`` or the embedded server's
admin URL; :func:`stop_database` and :func:`database_status` concern the
embedded server only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text

from quantdesk.config import Settings
from quantdesk.errors import QuantdeskError
from quantdesk.store.catalog_lint import CatalogProblem, check_catalog
from quantdesk.store.connection import admin_url, single_use_connection
from quantdesk.store.migrate import MigrationOutcome, migrate
from quantdesk.store.server import EmbeddedPostgres, ServerStatus, bootstrap_script
from quantdesk.store.session_limits import SessionLimits
from quantdesk.store.startup import DatabaseReady, start_database
from quantdesk.store.watchdog import BackgroundWatchdog, SweepReport, WatchdogLimits, sweep, watch

__all__ = [
    "BackgroundWatchdog",
    "CatalogProblem",
    "DatabaseReady",
    "DatabaseStatus",
    "DatabaseStopped",
    "MigrationOutcome",
    "SweepReport",
    "WatchdogLimits",
    "admin_database_url",
    "bootstrap_script",
    "check_database",
    "database_status",
    "migrate_database",
    "start_database",
    "stop_database",
    "sweep_sessions",
    "watch_sessions",
]


@dataclass(frozen=True)
class DatabaseStopped:
    """What :func:`stop_database` stopped: the embedded server, its watchdog, or neither."""

    server: bool
    watchdog: bool


@dataclass(frozen=True)
class DatabaseStatus:
    """The embedded server's state and its watchdog's process id (None when not running)."""

    server: ServerStatus
    watchdog_pid: int | None


def stop_database(settings: Settings) -> DatabaseStopped:
    """Stop the embedded server and its watchdog; a no-op for what is not running.

    Parameters
    ----------
    settings
        quantdesk's settings; the embedded server under them is stopped.

    Returns
    -------
    DatabaseStopped
        Whether the server and the watchdog were running and are now stopped.
    """
    watchdog_stopped = BackgroundWatchdog(settings).stop()
    return DatabaseStopped(server=EmbeddedPostgres(settings).down(), watchdog=watchdog_stopped)


def database_status(settings: Settings) -> DatabaseStatus:
    """Report whether the embedded server exists and runs, and its watchdog's pid.

    Parameters
    ----------
    settings
        quantdesk's settings; the embedded server under them is examined.

    Returns
    -------
    DatabaseStatus
        The server's directory, port, account and state, and the watchdog's pid.
    """
    return DatabaseStatus(
        server=EmbeddedPostgres(settings).status(),
        watchdog_pid=BackgroundWatchdog(settings).pid(),
    )


def manager_connects(settings: Settings) -> bool:
    """Whether the manager role can connect to the database now, embedded or external.

    Parameters
    ----------
    settings
        quantdesk's settings.

    Returns
    -------
    bool
        True when a connection opens and answers a query.
    """
    try:
        with single_use_connection(admin_url(settings)) as connection:
            connection.execute(text("SELECT 1"))
    except QuantdeskError:
        return False
    return True


def admin_database_url(settings: Settings) -> str:
    """The admin (manager role) URL as plain ``postgresql://`` text, password included.

    Parameters
    ----------
    settings
        quantdesk's settings.

    Returns
    -------
    str
        The URL; keep it private.
    """
    url = admin_url(settings).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def migrate_database(settings: Settings) -> MigrationOutcome:
    """Apply the schema migrations the database lacks (safe to re-run).

    Parameters
    ----------
    settings
        quantdesk's settings: the admin URL and ``migration_lock_timeout_seconds``.

    Returns
    -------
    MigrationOutcome
        The revisions before and after, and whether anything changed.
    """
    return migrate(
        admin_url(settings), lock_timeout_seconds=settings.migration_lock_timeout_seconds
    )


def check_database(settings: Settings) -> list[CatalogProblem]:
    """Check that the database catalog enforces isolation between users.

    Parameters
    ----------
    settings
        quantdesk's settings: the admin URL and the session limits.

    Returns
    -------
    list of CatalogProblem
        Each problem with its object and fix; empty when all is well.
    """
    return check_catalog(admin_url(settings), session_limits=SessionLimits.from_settings(settings))


def sweep_sessions(settings: Settings) -> SweepReport:
    """End the user sessions that block others or idle in a transaction too long, once.

    Parameters
    ----------
    settings
        quantdesk's settings: the admin URL and the ``watchdog_*`` limits.

    Returns
    -------
    SweepReport
        The sessions ended and the role settings reset.
    """
    return sweep(admin_url(settings), WatchdogLimits.from_settings(settings))


def watch_sessions(
    settings: Settings,
    *,
    wait: Callable[[float], bool],
    on_sweep: Callable[[SweepReport], None] | None = None,
) -> int:
    """Sweep every ``watchdog_interval_seconds`` until ``wait`` says stop.

    Parameters
    ----------
    settings
        quantdesk's settings: the admin URL, the ``watchdog_*`` limits and interval.
    wait
        Waits the given seconds; returns True to stop.
    on_sweep
        Called with each sweep's report.

    Returns
    -------
    int
        How many sweeps ran.
    """
    return watch(
        admin_url(settings),
        WatchdogLimits.from_settings(settings),
        interval_seconds=settings.watchdog_interval_seconds,
        wait=wait,
        on_sweep=on_sweep,
    )
