"""Bring the database to a usable state: the server running, the schema current."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quantdesk.config import Settings
from quantdesk.store.connection import admin_url
from quantdesk.store.migrate import MigrationOutcome, migrate
from quantdesk.store.server import EmbeddedPostgres, ServerStatus
from quantdesk.store.watchdog import BackgroundWatchdog


@dataclass(frozen=True)
class DatabaseReady:
    """What :func:`start_database` did.

    Attributes
    ----------
    server
        The embedded server's status, or None for an external server.
    migration
        The schema revisions before and after.
    watchdog
        The embedded server's watchdog process id, or None for an external server.
    """

    server: ServerStatus | None
    migration: MigrationOutcome
    watchdog: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary.

        Returns
        -------
        dict
            ``external``, the server's status fields and ``watchdog`` (its pid)
            when embedded, and ``revision``.
        """
        payload: dict[str, Any] = {"external": self.server is None}
        if self.server is not None:
            payload.update(self.server.to_json())
            payload["watchdog"] = self.watchdog
        payload["revision"] = self.migration.after
        return payload

    def describe(self) -> str:
        """One line for a person.

        Returns
        -------
        str
            Where the database runs and what the migration did.
        """
        where = (
            "external server (QUANTDESK_ADMIN_DATABASE_URL)"
            if self.server is None
            else f"embedded server in {self.server.directory} on 127.0.0.1:{self.server.port}"
        )
        outcome = self.migration
        change = (
            f"migrated {outcome.before or 'empty'} -> {outcome.after}"
            if outcome.changed
            else f"schema at {outcome.after}"
        )
        watchdog = f"; watchdog pid {self.watchdog}" if self.watchdog is not None else ""
        return f"{where}; {change}{watchdog}"


def start_database(settings: Settings) -> DatabaseReady:
    """Start the embedded server unless an external one is configured, migrate, start the watchdog.

    The watchdog (:class:`quantdesk.store.watchdog.BackgroundWatchdog`) runs
    beside the embedded server only; for an external server, run
    ``quantdesk db watchdog`` where it suits.

    Parameters
    ----------
    settings
        The settings in effect.

    Returns
    -------
    DatabaseReady
        The server's status, the migration's outcome and the watchdog's pid.
    """
    lock_timeout = settings.migration_lock_timeout_seconds
    if settings.admin_database_url is not None:
        return DatabaseReady(
            server=None, migration=migrate(admin_url(settings), lock_timeout_seconds=lock_timeout)
        )
    server = EmbeddedPostgres(settings).up()
    migration = migrate(admin_url(settings), lock_timeout_seconds=lock_timeout)
    return DatabaseReady(
        server=server, migration=migration, watchdog=BackgroundWatchdog(settings).start()
    )
