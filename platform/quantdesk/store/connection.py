"""Connections to the database: whose URL, which engine, and errors in one line.

A user's kernel connects as that user's own role (``QUANTDESK_DATABASE_URL``,
or the credentials ``quantdesk up`` wrote for the local user). The manager
role (the admin URL) is only used to migrate and to manage users.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
import sqlalchemy
from sqlalchemy import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError, DatabaseUnavailableError, StoreError

DRIVER = "postgresql+psycopg"
CONNECT_TIMEOUT_SECONDS = 10
"""How long a connection attempt waits before the database counts as unavailable."""
_ACCEPTED_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_AUTHENTICATION_SQLSTATE_CLASS = "28"
_CONNECTION_SQLSTATE_CLASS = "08"
# admin_shutdown, crash_shutdown, cannot_connect_now: the server went away or is starting.
_SERVER_GONE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# deadlock_detected, serialization_failure, lock_not_available, query_canceled:
# the server is fine, this attempt lost a race or ran out of time.
_RETRY_SQLSTATES = frozenset({"40P01", "40001", "55P03", "57014"})

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def parse_database_url(text: str, *, origin: str) -> URL:
    """Read a PostgreSQL URL and set its driver to psycopg.

    Parameters
    ----------
    text
        A URL such as ``postgresql://alice:...@127.0.0.1:5432/quantdesk``.
    origin
        Where it came from, named in errors (an environment variable or a file).

    Returns
    -------
    sqlalchemy.URL
        The URL with the ``postgresql+psycopg`` driver.

    Raises
    ------
    ConfigurationError
        If it is not a PostgreSQL URL.
    """
    try:
        url = sqlalchemy.make_url(text.strip())
    except ArgumentError:
        raise ConfigurationError(
            f"{origin} is not a database URL; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None
    if url.drivername not in _ACCEPTED_SCHEMES:
        raise ConfigurationError(
            f"{origin} uses {url.drivername!r}; quantdesk needs a postgresql:// URL"
        )
    if not url.database:
        raise ConfigurationError(f"{origin} names no database; end the URL with /DATABASE")
    return url.set(drivername=DRIVER)


def user_url(settings: Settings) -> URL:
    """The URL the library connects with as the current user.

    Parameters
    ----------
    settings
        The settings in effect.

    Returns
    -------
    sqlalchemy.URL
        ``settings.database_url``, else the local user's credentials file.

    Raises
    ------
    ConfigurationError
        If neither is available.
    """
    if settings.database_url is not None:
        return parse_database_url(
            settings.database_url.get_secret_value(), origin="QUANTDESK_DATABASE_URL"
        )
    credentials = settings.local_credentials_file
    if credentials.is_file():
        return parse_database_url(credentials.read_text(), origin=str(credentials))
    raise ConfigurationError(
        "no database configured: set QUANTDESK_DATABASE_URL to your user's URL "
        "(an admin gets one with 'quantdesk users add NAME'), or run 'quantdesk up' locally"
    )


def admin_url(settings: Settings) -> URL:
    """The manager role's URL: the external server's, or the embedded server's.

    Parameters
    ----------
    settings
        The settings in effect.

    Returns
    -------
    sqlalchemy.URL
        ``settings.admin_database_url`` when set, else the embedded server's admin URL.
    """
    if settings.admin_database_url is not None:
        return parse_database_url(
            settings.admin_database_url.get_secret_value(), origin="QUANTDESK_ADMIN_DATABASE_URL"
        )
    from quantdesk.store.server import EmbeddedPostgres

    return EmbeddedPostgres(settings).admin_url()


def engine_for(url: URL) -> Engine:
    """A pooled engine for ``url``, shared by every caller with the same URL.

    Parameters
    ----------
    url
        A ``postgresql+psycopg`` URL.

    Returns
    -------
    sqlalchemy.Engine
        The engine; connections are checked before use, so a restarted
        server costs one failed call at most.
    """
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = sqlalchemy.create_engine(
                url,
                pool_pre_ping=True,
                pool_size=2,
                max_overflow=4,
                # Sessions in UTC: times arrive as datetime.timezone.utc, like the
                # canonical frame's, and psycopg converts them without a zone lookup.
                connect_args={
                    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                    "options": "-c TimeZone=UTC",
                },
            )
            _engines[key] = engine
        return engine


@contextmanager
def single_use_connection(url: URL) -> Iterator[Connection]:
    """One connection to ``url``, not pooled: closed, with its engine, when the block ends.

    For URLs used once, such as a freshly made user's, so no pool outlives them.

    Parameters
    ----------
    url
        A ``postgresql+psycopg`` URL.

    Yields
    ------
    sqlalchemy.Connection
        The open connection.
    """
    engine = sqlalchemy.create_engine(
        url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def user_engine(settings: Settings | None = None) -> Engine:
    """The engine of the current user (see :func:`user_url`).

    Parameters
    ----------
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    sqlalchemy.Engine
        A pooled engine connecting as the user's own role.
    """
    return engine_for(user_url(settings if settings is not None else Settings.load()))


def admin_engine(settings: Settings | None = None) -> Engine:
    """The engine of the manager role (see :func:`admin_url`).

    Parameters
    ----------
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    sqlalchemy.Engine
        A pooled engine connecting as ``quantdesk_manager``.
    """
    return engine_for(admin_url(settings if settings is not None else Settings.load()))


def dispose_engines() -> None:
    """Close every pooled connection, for example after a server restart or in tests."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Turn database errors raised inside the block into one-line quantdesk errors.

    Only the server's primary message is kept: a detail line may quote row
    values, which can be secrets.

    Parameters
    ----------
    action
        What was being done, for example ``"saving the run"``; starts the message.

    Raises
    ------
    DatabaseUnavailableError
        When the server cannot be reached or the connection was lost.
    StoreError
        For any other database error.
    """
    try:
        yield
    except DBAPIError as error:
        raise _translated(action, error) from None


def driver_connection(connection: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy connection.

    Parameters
    ----------
    connection
        A SQLAlchemy connection.

    Returns
    -------
    psycopg.Connection
        Its driver connection.
    """
    return cast("psycopg.Connection[Any]", connection.connection.driver_connection)


def driver_rows(
    connection: Connection,
    statement: str,
    parameters: dict[str, Any],
    *,
    binary: bool = False,
) -> list[tuple[Any, ...]]:
    """Run ``statement`` on the driver's own cursor and return its rows.

    Results holding a secret go this way, because SQLAlchemy's engine logger
    writes every result row at DEBUG level and psycopg logs none; so do bulky
    ones, which skip SQLAlchemy's row processing.

    Parameters
    ----------
    connection
        A SQLAlchemy connection; the statement runs in its transaction.
    statement
        SQL with psycopg placeholders (``%(name)s``).
    parameters
        The placeholders' values.
    binary
        Fetch in binary: bytea and times arrive without text parsing.

    Returns
    -------
    list of tuple
        The rows.

    Raises
    ------
    sqlalchemy.exc.DBAPIError
        For a database error, so :func:`translated_errors` turns it into one line.
    """
    cursor = driver_connection(connection).cursor(binary=binary)
    try:
        cursor.execute(statement, parameters)
        return [tuple(row) for row in cursor.fetchall()]
    except psycopg.Error as error:
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from None
    finally:
        cursor.close()


def _translated(action: str, error: DBAPIError) -> StoreError:
    original = error.orig
    diagnostic = getattr(original, "diag", None)
    sqlstate = getattr(original, "sqlstate", None) or ""
    primary = getattr(diagnostic, "message_primary", None) or _first_line(str(original))
    if sqlstate.startswith(_AUTHENTICATION_SQLSTATE_CLASS) or "authentication failed" in primary:
        return StoreError(
            f"{action}: the database refused the login ({primary}); ask an admin for new "
            "credentials with 'quantdesk users rotate NAME'"
        )
    if sqlstate in _RETRY_SQLSTATES:
        return StoreError(f"{action}: {primary}; retry")
    if (
        error.connection_invalidated
        or sqlstate.startswith(_CONNECTION_SQLSTATE_CLASS)
        or sqlstate in _SERVER_GONE_SQLSTATES
        or (not sqlstate and isinstance(error, sqlalchemy.exc.OperationalError))
    ):
        return DatabaseUnavailableError(
            f"{action}: the database is unavailable ({primary}); "
            "check it with 'quantdesk db status' and retry"
        )
    return StoreError(f"{action}: {primary}")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no message"
