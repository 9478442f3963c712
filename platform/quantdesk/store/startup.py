"""Bring the database to a usable state: the server running, the schema current."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quantdesk.config import Settings
from quantdesk.store.connection import admin_url
from quantdesk.store.migrate import MigrationOutcome, migrate
from quantdesk.store.server import EmbeddedPostgres, ServerStatus


@dataclass(frozen=True)
class DatabaseReady:
    """What :func:`start_database` did.

    Attributes
    ----------
    server
        The embedded server's status, or None for an external server.
    migration
        The schema revisions before and after.
    """

    server: ServerStatus | None
    migration: MigrationOutcome

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary.

        Returns
        -------
        dict
            ``external``, the server's status fields when embedded, and ``revision``.
        """
        payload: dict[str, Any] = {"external": self.server is None}
        if self.server is not None:
            payload.update(self.server.to_json())
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
        return f"{where}; {change}"


def start_database(settings: Settings) -> DatabaseReady:
    """Start the embedded server unless an external one is configured, then migrate.

    Parameters
    ----------
    settings
        The settings in effect.

    Returns
    -------
    DatabaseReady
        The server's status and the migration's outcome.
    """
    server = None if settings.admin_database_url is not None else EmbeddedPostgres(settings).up()
    migration = migrate(
        admin_url(settings), lock_timeout_seconds=settings.migration_lock_timeout_seconds
    )
    return DatabaseReady(server=server, migration=migration)
