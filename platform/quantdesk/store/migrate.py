"""Bring the database schema to the newest revision.

Migrations run as the manager role with ``SET ROLE quantdesk_owner``, so
every table, view and the version table belong to the owner role. An
advisory lock makes concurrent runs wait for each other instead of racing.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, text

from quantdesk.errors import StoreError
from quantdesk.store.binaries import MINIMUM_MAJOR_VERSION
from quantdesk.store.connection import engine_for, translated_errors
from quantdesk.store.roles import OWNER_ROLE

VERSION_TABLE = "alembic_version"
VERSION_TABLE_SCHEMA = "quantdesk_migrations"
SCRIPT_LOCATION = "quantdesk.store:migrations"
_LOCK_KEY = "quantdesk-migrate"


@dataclass(frozen=True)
class MigrationOutcome:
    """What a migration run did.

    Attributes
    ----------
    before
        The revision the database was at, or None for an empty database.
    after
        The revision it is at now (the newest one).
    """

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        """Whether any revision was applied."""
        return self.before != self.after


def alembic_config() -> Config:
    """The Alembic configuration of quantdesk's migrations.

    Returns
    -------
    alembic.config.Config
        A configuration pointing at the packaged revisions.
    """
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def newest_revision() -> str:
    """The newest revision the installed package ships.

    Returns
    -------
    str
        The head revision id.
    """
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError("quantdesk ships no migrations; reinstall the package")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at.

    Parameters
    ----------
    connection
        A connection as the manager role.

    Returns
    -------
    str or None
        The applied revision, or None before the first migration.
    """
    connection.execute(text(f"SET ROLE {OWNER_ROLE}"))
    try:
        exists = connection.execute(
            text("SELECT to_regclass(:name) IS NOT NULL"),
            {"name": f"{VERSION_TABLE_SCHEMA}.{VERSION_TABLE}"},
        ).scalar_one()
        if not exists:
            return None
        context = MigrationContext.configure(
            connection,
            opts={"version_table": VERSION_TABLE, "version_table_schema": VERSION_TABLE_SCHEMA},
        )
        return context.get_current_revision()
    finally:
        connection.execute(text("RESET ROLE"))


def migrate(admin_url: URL) -> MigrationOutcome:
    """Apply every revision the database lacks, in one transaction.

    Parameters
    ----------
    admin_url
        The manager role's URL (see :func:`quantdesk.store.connection.admin_url`).

    Returns
    -------
    MigrationOutcome
        The revision before and after.

    Raises
    ------
    StoreError
        If the database refuses a revision; nothing of it is applied.
    """
    config = alembic_config()
    with translated_errors("migrating the database"), engine_for(admin_url).connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": _LOCK_KEY})
        try:
            _refuse_old_server(connection)
            before = current_revision(connection)
            connection.execute(text(f"SET ROLE {OWNER_ROLE}"))
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {VERSION_TABLE_SCHEMA}"))
            connection.commit()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
            connection.execute(text("RESET ROLE"))
            after = current_revision(connection)
        finally:
            connection.rollback()
            connection.execute(text("RESET ROLE"))
            connection.execute(
                text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": _LOCK_KEY}
            )
            connection.commit()
    if after is None:
        raise StoreError("the migration ran but recorded no revision; run 'quantdesk db migrate'")
    return MigrationOutcome(before=before, after=after)


def _refuse_old_server(connection: Connection) -> None:
    version = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    if version < MINIMUM_MAJOR_VERSION * 10_000:
        raise StoreError(
            f"the database server runs PostgreSQL {version // 10_000}; quantdesk's schema needs "
            f"PostgreSQL >= {MINIMUM_MAJOR_VERSION} (security_invoker views): upgrade the server"
        )
