"""The embedded PostgreSQL server: a private cluster under quantdesk's state directory.

``quantdesk db up`` creates it on first use (initdb, roles, database,
pgcrypto, the vault's master-key file), starts it, and is a no-op when it
already runs. The server listens on a Unix socket in its directory and on
127.0.0.1 only. Every login needs a scram-sha-256 password, except the vault agent's and
the hub's people's over the socket, which `peer` authentication ties to their OS account.

Files in :attr:`EmbeddedPostgres.directory`::

    data/            the cluster (PGDATA), owned by the server's account, mode 0700
    socket/          the Unix socket
    server.log       the server's log
    watchdog.pid     the background watchdog's process id (see
                     :class:`quantdesk.store.watchdog.BackgroundWatchdog`)
    watchdog.log     what the watchdog ended, and its errors
    admin-url        the manager role's URL (mode 0600)
    superuser-url    the bootstrap superuser's URL (mode 0600); quantdesk never
                     connects with it after setting up

When quantdesk runs as root, the server runs as the unprivileged ``quantdesk``
account (see :mod:`quantdesk.store.service_account`; only ``up`` creates it),
and these files belong to root.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from filelock import FileLock
from psycopg import sql
from sqlalchemy import URL

from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError, DatabaseUnavailableError
from quantdesk.store.binaries import ServerBinaries, find_server_binaries
from quantdesk.store.connection import DRIVER, parse_database_url
from quantdesk.store.private_file import write_private_text
from quantdesk.store.roles import (
    ADMINS_ROLE,
    AGENT_ROLE,
    DATABASE,
    DBLINK_FUNCTIONS,
    DBLINK_SCHEMA,
    GROUP_ROLES,
    MANAGER_ROLE,
    OWNER_ROLE,
    PEER_ROLE,
    READ_FILE_FUNCTION,
    USERS_ROLE,
    VAULT_ROLE,
)
from quantdesk.store.service_account import (
    CREATED_ACCOUNT,
    ServiceAccount,
    existing_service_account,
    service_account,
)
from quantdesk.store.session_limits import TEMP_FILE_LIMIT
from quantdesk.store.users import scram_verifier
from quantdesk.store.vault import AGENT_CONNINFO_FILE, KEY_FILE, write_master_key_file

SUPERUSER = "quantdesk_superuser"
"""The cluster's bootstrap superuser; only :meth:`EmbeddedPostgres.up` connects with it."""
LISTEN_ADDRESS = "127.0.0.1"
_START_TIMEOUT_SECONDS = 120
_SOCKET_PATH_LIMIT = 100
_PASSWORD_BYTES = 32

SERVER_SETTINGS = {
    "listen_addresses": f"'{LISTEN_ADDRESS}'",
    "password_encryption": "'scram-sha-256'",
    "max_connections": "200",
    "unix_socket_permissions": "0777",
    # A bound parameter may be a secret; never copy one into the log.
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
    "logging_collector": "off",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    # Per session; users cannot raise it. The database carries it too (bootstrap_statements).
    "temp_file_limit": f"'{TEMP_FILE_LIMIT}'",
}
AGENT_IDENTITY_MAP = "quantdesk_vault_agent"
"""The pg_ident.conf map that lets only the server's own OS account log in as the vault agent."""


def authentication_files(server_account: str) -> tuple[str, str]:
    """The embedded server's ``pg_hba.conf`` and ``pg_ident.conf``.

    Parameters
    ----------
    server_account
        The OS account the server runs as.

    Returns
    -------
    tuple of str
        The contents of ``pg_hba.conf``, then of ``pg_ident.conf``.
    """
    host_based = (
        "# quantdesk: the vault agent logs in only from the server's own OS account (its\n"
        "# backends, over dblink); the hub's people (members of the peer role) log in over\n"
        "# the socket from their own OS account of the same name, with no password; every\n"
        "# other login needs a scram-sha-256 password.\n"
        f"local   {DATABASE}   {AGENT_ROLE}   peer map={AGENT_IDENTITY_MAP}\n"
        f"host    all   {AGENT_ROLE}   0.0.0.0/0   reject\n"
        f"host    all   {AGENT_ROLE}   ::/0        reject\n"
        f"local   {DATABASE}   {MANAGER_ROLE}   scram-sha-256\n"
        f"local   {DATABASE}   +{PEER_ROLE}   peer\n"
        "local   all   all                  scram-sha-256\n"
        f"host    all   all   {LISTEN_ADDRESS}/32   scram-sha-256\n"
    )
    identities = (
        "# quantdesk: MAP  OS-ACCOUNT  DATABASE-ROLE\n"
        f"{AGENT_IDENTITY_MAP}   {server_account}   {AGENT_ROLE}\n"
    )
    return host_based, identities


@dataclass(frozen=True)
class ServerStatus:
    """What ``quantdesk db status`` reports.

    Attributes
    ----------
    directory
        The embedded server's directory.
    initialized
        Whether the cluster has been created and set up.
    running
        Whether the server is accepting connections.
    port
        The TCP port on 127.0.0.1, once initialized.
    account
        The OS account the server runs as.
    """

    directory: Path
    initialized: bool
    running: bool
    port: int | None
    account: str

    def to_json(self) -> dict[str, Any]:
        """The status as a JSON-ready dict.

        Returns
        -------
        dict
            ``directory``, ``initialized``, ``running``, ``port`` and ``account``.
        """
        return {
            "directory": str(self.directory),
            "initialized": self.initialized,
            "running": self.running,
            "port": self.port,
            "account": self.account,
        }


class EmbeddedPostgres:
    """The private PostgreSQL cluster in ``settings.resolved_database_dir``.

    Parameters
    ----------
    settings
        The settings in effect; only ``resolved_database_dir`` is used.
    """

    def __init__(self, settings: Settings) -> None:
        self.directory = settings.resolved_database_dir
        self._binaries_directory = settings.postgres_bin_dir
        self.data_directory = self.directory / "data"
        self.socket_directory = self.directory / "socket"
        self.log_path = self.directory / "server.log"
        self._admin_url_file = self.directory / "admin-url"
        self._superuser_url_file = self.directory / "superuser-url"

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(directory={str(self.directory)!r})"

    @property
    def initialized(self) -> bool:
        """Whether the cluster exists and was fully set up (its admin URL is written last)."""
        return self._admin_url_file.is_file() and (self.data_directory / "PG_VERSION").is_file()

    def admin_url(self) -> URL:
        """The manager role's URL.

        Returns
        -------
        sqlalchemy.URL
            A ``postgresql+psycopg`` URL on 127.0.0.1.

        Raises
        ------
        ConfigurationError
            If the server was never set up.
        """
        return self._read_url(self._admin_url_file)

    def superuser_url(self) -> URL:
        """The bootstrap superuser's URL, for operators and the test suite only.

        Returns
        -------
        sqlalchemy.URL
            A ``postgresql+psycopg`` URL on 127.0.0.1.
        """
        return self._read_url(self._superuser_url_file)

    def status(self) -> ServerStatus:
        """Whether the server exists and runs, without changing anything.

        Returns
        -------
        ServerStatus
            The current state.
        """
        account = existing_service_account()
        initialized = self.initialized
        running = initialized and account is not None and self._running(self._binaries(), account)
        port = self.admin_url().port if initialized else None
        name = account.name if account is not None else CREATED_ACCOUNT
        return ServerStatus(self.directory, initialized, running, port, name)

    def up(self) -> ServerStatus:
        """Create the cluster if needed and start it; a no-op when it already runs.

        Returns
        -------
        ServerStatus
            The state afterwards (running).

        Raises
        ------
        ConfigurationError
            If the server programs are missing or the directory is unusable.
        DatabaseUnavailableError
            If the server does not start; the message names the log.
        """
        binaries = self._binaries()
        account = service_account()
        with self._locked():
            if not self.initialized:
                self._initialize(binaries, account)
            else:
                self._write_authentication_files(account)
                self._write_agent_conninfo(account, self.admin_url().port or 0)
                if not self._running(binaries, account):
                    self._start(binaries, account)
                apply_upkeep(self.superuser_url())
        return self.status()

    def down(self) -> bool:
        """Stop the server if it runs.

        Returns
        -------
        bool
            True if it was running and is now stopped.
        """
        account = existing_service_account()
        if not self.initialized or account is None:
            return False
        binaries = self._binaries()
        with self._locked():
            if not self._running(binaries, account):
                return False
            self._pg_ctl(binaries, account, "stop", "-m", "fast")
        return True

    def restart(self, *, mode: str = "fast") -> None:
        """Restart the running server; ``mode="immediate"`` simulates a crash.

        Parameters
        ----------
        mode
            ``pg_ctl``'s shutdown mode: ``smart``, ``fast`` or ``immediate``.
        """
        binaries = self._binaries()
        account = service_account()
        with self._locked():
            self._pg_ctl(binaries, account, "stop", "-m", mode)
            self._start(binaries, account)

    def _binaries(self) -> ServerBinaries:
        return find_server_binaries(self._binaries_directory)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._prepare_directory()
        with FileLock(str(self.directory / ".lock"), timeout=_START_TIMEOUT_SECONDS):
            yield

    def _prepare_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                self.directory.chmod(0o755)
        except OSError as error:
            raise ConfigurationError(
                f"cannot create the database directory {self.directory} ({error.strerror}); "
                "set QUANTDESK_DATABASE_DIR to a writable directory"
            ) from None

    def _initialize(self, binaries: ServerBinaries, account: ServiceAccount) -> None:
        socket_path = self.socket_directory / f".s.PGSQL.{65535}"
        if len(str(socket_path)) > _SOCKET_PATH_LIMIT:
            raise ConfigurationError(
                f"the database directory {self.directory} is too long a path for a Unix "
                "socket; set QUANTDESK_DATABASE_DIR to a shorter one"
            )
        # A half-finished earlier 'db up' may have left its server running on
        # the old cluster: stop it before deleting the files under it.
        if (self.data_directory / "PG_VERSION").is_file() and self._running(binaries, account):
            self._pg_ctl(binaries, account, "stop", "-m", "immediate")
        for leftover in (self.data_directory, self.socket_directory):
            shutil.rmtree(leftover, ignore_errors=True)
        for directory in (self.data_directory, self.socket_directory):
            directory.mkdir(mode=0o700)
            account.give(directory)
        self.socket_directory.chmod(0o755)
        self.log_path.touch(mode=0o600)
        account.give(self.log_path)
        if not account.can_write(self.data_directory):
            raise ConfigurationError(
                f"the server's account {account.name!r} cannot reach {self.data_directory}: "
                "set QUANTDESK_DATABASE_DIR to a directory whose parents it may enter "
                "(for example /var/lib/quantdesk/postgres)"
            )
        superuser_password = secrets.token_urlsafe(_PASSWORD_BYTES)
        password_file = self.directory / ".initdb-password"
        write_private_text(password_file, superuser_password + "\n", owner=account.owner)
        try:
            self._checked(
                account.run(
                    [
                        binaries.program("initdb"),
                        "--pgdata",
                        str(self.data_directory),
                        "--username",
                        SUPERUSER,
                        "--pwfile",
                        str(password_file),
                        "--auth",
                        "scram-sha-256",
                        "--encoding",
                        "UTF8",
                        "--no-locale",
                    ]
                ),
                "creating the database cluster with initdb",
            )
        finally:
            password_file.unlink(missing_ok=True)
        port = _free_port()
        self._write_server_files(account, port)
        write_master_key_file(self.data_directory / KEY_FILE)
        self._write_agent_conninfo(account, port)
        self._start(binaries, account)
        try:
            superuser_url = self._url(SUPERUSER, superuser_password, port, database="postgres")
            manager_password = secrets.token_urlsafe(_PASSWORD_BYTES)
            bootstrap(superuser_url, manager_password)
            write_private_text(
                self._superuser_url_file, _libpq(superuser_url.set(database=DATABASE)) + "\n"
            )
            write_private_text(
                self._admin_url_file,
                _libpq(self._url(MANAGER_ROLE, manager_password, port)) + "\n",
            )
        except BaseException:
            # Not set up: leave no server running that the next 'db up' cannot see.
            account.run(
                [
                    binaries.program("pg_ctl"),
                    "stop",
                    "--pgdata",
                    str(self.data_directory),
                    "--wait",
                    "--silent",
                    "-m",
                    "immediate",
                ],
                timeout=_START_TIMEOUT_SECONDS + 30,
            )
            raise

    def _write_server_files(self, account: ServiceAccount, port: int) -> None:
        settings = dict(SERVER_SETTINGS)
        settings["port"] = str(port)
        settings["unix_socket_directories"] = f"'{self.socket_directory}'"
        lines = "".join(f"{name} = {value}\n" for name, value in settings.items())
        conf = self.data_directory / "quantdesk.conf"
        conf.write_text("# Written by quantdesk db up.\n" + lines)
        account.give(conf)
        with (self.data_directory / "postgresql.conf").open("a") as main_conf:
            main_conf.write("\ninclude 'quantdesk.conf'\n")
        self._write_authentication_files(account)

    def _write_agent_conninfo(self, account: ServiceAccount, port: int) -> None:
        socket_directory = str(self.socket_directory).replace("\\", "\\\\").replace("'", "\\'")
        conninfo = (
            f"host='{socket_directory}' port={port} dbname={DATABASE} user={AGENT_ROLE} "
            f"application_name={AGENT_ROLE} connect_timeout=10\n"
        )
        path = self.data_directory / AGENT_CONNINFO_FILE
        if not path.is_file() or path.read_text() != conninfo:
            write_private_text(path, conninfo, owner=account.owner)

    def _write_authentication_files(self, account: ServiceAccount) -> None:
        """Write pg_hba.conf and pg_ident.conf where they differ (``apply_upkeep`` reloads)."""
        for name, content in zip(
            ("pg_hba.conf", "pg_ident.conf"), authentication_files(account.name), strict=True
        ):
            path = self.data_directory / name
            if not path.is_file() or path.read_text() != content:
                path.write_text(content)
                account.give(path)

    def _start(self, binaries: ServerBinaries, account: ServiceAccount) -> None:
        self._pg_ctl(
            binaries,
            account,
            "start",
            "--log",
            str(self.log_path),
            "--timeout",
            str(_START_TIMEOUT_SECONDS),
        )

    def _running(self, binaries: ServerBinaries, account: ServiceAccount) -> bool:
        result = account.run(
            [binaries.program("pg_ctl"), "status", "--pgdata", str(self.data_directory)]
        )
        return result.returncode == 0

    def _pg_ctl(self, binaries: ServerBinaries, account: ServiceAccount, *arguments: str) -> None:
        command = [binaries.program("pg_ctl"), arguments[0], "--pgdata", str(self.data_directory)]
        command += ["--wait", "--silent", *arguments[1:]]
        self._checked(
            account.run(command, timeout=_START_TIMEOUT_SECONDS + 30), f"pg_ctl {arguments[0]}"
        )

    def _checked(self, result: Any, action: str) -> None:
        if result.returncode == 0:
            return
        output = (result.stderr or result.stdout or "").strip().splitlines()
        errors = [line for line in output if "error" in line.lower()]
        reason = (errors or output or [f"exit status {result.returncode}"])[0].strip()
        raise DatabaseUnavailableError(
            f"{action} failed ({reason}); see the server log {self.log_path}"
        )

    def _read_url(self, path: Path) -> URL:
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigurationError(
                f"the embedded database in {self.directory} is not set up: run 'quantdesk db up', "
                "or set QUANTDESK_ADMIN_DATABASE_URL to use an existing server"
            ) from None
        except PermissionError:
            raise ConfigurationError(
                f"{path} is not readable by this account: run this as the account that ran "
                "'quantdesk db up' (or root)"
            ) from None
        return parse_database_url(text, origin=str(path))

    @staticmethod
    def _url(role: str, password: str, port: int, *, database: str = DATABASE) -> URL:
        return URL.create(
            DRIVER,
            username=role,
            password=password,
            host=LISTEN_ADDRESS,
            port=port,
            database=database,
        )


OTHER_DATABASES = ("postgres", "template1")
"""The cluster's own databases: nobody but a superuser connects to them or makes temp tables."""
LARGE_OBJECT_CREATORS = (
    "pg_catalog.lo_creat(integer)",
    "pg_catalog.lo_create(oid)",
    "pg_catalog.lo_from_bytea(oid, bytea)",
    "pg_catalog.lo_import(text)",
    "pg_catalog.lo_import(text, oid)",
)
"""Large objects belong to a role, not to a row, and would stop its removal; users make none."""


def bootstrap_statements(
    manager_verifier: str,
) -> tuple[list[sql.SQL | sql.Composed], list[sql.SQL | sql.Composed]]:
    """The superuser statements that prepare a server for ``quantdesk db migrate``.

    Parameters
    ----------
    manager_verifier
        The manager role's SCRAM verifier (or a plain password for a hand-run script).

    Returns
    -------
    tuple
        Statements for the ``postgres`` database, then statements for the ``quantdesk`` one.
    """
    cluster: list[sql.SQL | sql.Composed] = [
        sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)) for role in GROUP_ROLES
    ]
    cluster += [
        sql.SQL(
            "CREATE ROLE {} LOGIN CREATEROLE NOINHERIT NOSUPERUSER NOBYPASSRLS PASSWORD {}"
        ).format(sql.Identifier(MANAGER_ROLE), sql.Literal(manager_verifier)),
        sql.SQL(f"GRANT {OWNER_ROLE}, {VAULT_ROLE} TO {MANAGER_ROLE}"),
        sql.SQL(f"GRANT {USERS_ROLE}, {ADMINS_ROLE} TO {MANAGER_ROLE} WITH ADMIN OPTION"),
        *(
            sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(other)
            )
            for other in OTHER_DATABASES
        ),
        sql.SQL(
            f"CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE} ENCODING 'UTF8' TEMPLATE template0"
        ),
        sql.SQL(f"REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC"),
        # Only a superuser may set it, and so no user may change it; on an external
        # server this is what bounds a session's temporary files.
        sql.SQL("ALTER DATABASE {} SET temp_file_limit = {}").format(
            sql.Identifier(DATABASE), sql.Literal(TEMP_FILE_LIMIT)
        ),
        sql.SQL(f"GRANT CONNECT ON DATABASE {DATABASE} TO {USERS_ROLE}, {MANAGER_ROLE}"),
    ]
    database: list[sql.SQL | sql.Composed] = [
        sql.SQL("CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public"),
        sql.SQL(f"GRANT EXECUTE ON FUNCTION {READ_FILE_FUNCTION} TO {VAULT_ROLE}"),
        *(
            sql.SQL(f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")
            for function in LARGE_OBJECT_CREATORS
        ),
    ]
    upkeep_cluster, upkeep_database = upkeep_statements()
    return cluster + upkeep_cluster, database + upkeep_database


AGENT_SETTINGS = {
    "statement_timeout": "'60s'",
    "client_min_messages": "error",
    "log_statement": "none",
    "log_min_duration_statement": "-1",
    "log_min_error_statement": "panic",
    "search_path": "''",
}
"""The vault agent's own settings: bounded, silent, and never echoing a statement to the log."""


def upkeep_statements() -> tuple[list[sql.SQL | sql.Composed], list[sql.SQL | sql.Composed]]:
    """The superuser statements ``db up`` re-applies to an existing cluster; each is idempotent.

    Returns
    -------
    tuple
        Statements for the ``postgres`` database, then for the ``quantdesk`` one.
    """
    cluster: list[sql.SQL | sql.Composed] = [
        # Ends a user's sessions by role oid, whatever the user set for themselves.
        sql.SQL(f"GRANT pg_signal_backend TO {MANAGER_ROLE}"),
        # Lets the watchdog see which user sessions sit idle in a transaction, and since when.
        sql.SQL(f"GRANT pg_read_all_stats TO {MANAGER_ROLE}"),
        sql.SQL(
            "DO $agent$ BEGIN "
            f"IF to_regrole('{AGENT_ROLE}') IS NULL THEN "
            f'CREATE ROLE "{AGENT_ROLE}" LOGIN INHERIT NOSUPERUSER NOBYPASSRLS NOCREATEROLE '
            "NOCREATEDB PASSWORD NULL; "
            "END IF; END $agent$"
        ),
        sql.SQL(
            f"ALTER ROLE {AGENT_ROLE} LOGIN INHERIT NOSUPERUSER NOBYPASSRLS NOCREATEROLE "
            "NOCREATEDB NOREPLICATION PASSWORD NULL CONNECTION LIMIT -1"
        ),
        sql.SQL(f"GRANT {VAULT_ROLE} TO {AGENT_ROLE}"),
        sql.SQL(
            "DO $peer$ BEGIN "
            f"IF to_regrole('{PEER_ROLE}') IS NULL THEN "
            f'CREATE ROLE "{PEER_ROLE}" NOLOGIN; '
            "END IF; END $peer$"
        ),
        sql.SQL(
            f"ALTER ROLE {PEER_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB "
            "NOREPLICATION"
        ),
        *(
            sql.SQL(f"ALTER ROLE {AGENT_ROLE} SET {name} = {value}")
            for name, value in AGENT_SETTINGS.items()
        ),
    ]
    database: list[sql.SQL | sql.Composed] = [
        sql.SQL(f"GRANT CONNECT ON DATABASE {DATABASE} TO {AGENT_ROLE}"),
        sql.SQL(f"CREATE SCHEMA IF NOT EXISTS {DBLINK_SCHEMA}"),
        sql.SQL(f"REVOKE ALL ON SCHEMA {DBLINK_SCHEMA} FROM PUBLIC"),
        sql.SQL(f"CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA {DBLINK_SCHEMA}"),
        sql.SQL(f"REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA {DBLINK_SCHEMA} FROM PUBLIC"),
        sql.SQL(f"GRANT USAGE ON SCHEMA {DBLINK_SCHEMA} TO {VAULT_ROLE}"),
        *(
            sql.SQL(f"GRANT EXECUTE ON FUNCTION {DBLINK_SCHEMA}.{function} TO {VAULT_ROLE}")
            for function in DBLINK_FUNCTIONS
        ),
        sql.SQL(SHARED_COUNTERS_PRIVATE),
    ]
    return cluster, database


SHARED_COUNTER_FUNCTIONS = f"""
    SELECT p.oid::pg_catalog.regprocedure AS counter FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace
      AND p.proname LIKE 'pg\\_stat\\_get\\_%'
      AND p.proname NOT LIKE 'pg\\_stat\\_get\\_xact\\_%'
      AND p.proname NOT LIKE 'pg\\_stat\\_get\\_backend\\_%'
      AND p.proname NOT IN ({
    ", ".join(
        f"'{name}'"
        for name in (
            "pg_stat_get_activity",
            "pg_stat_get_progress_info",
            "pg_stat_get_snapshot_timestamp",
        )
    )
})"""
"""The cumulative statistics functions: counters summed over every user's work.

They would tell a user when another user's rows were read, written or
refused (``pg_stat_user_tables``, ``pg_stat_database``). A user keeps those of
their own backend and transaction (``pg_stat_get_xact_*``, ``pg_stat_activity``).
"""

SHARED_COUNTERS_PRIVATE = f"""DO $counters$
DECLARE
    counter pg_catalog.regprocedure;
BEGIN
    FOR counter IN {SHARED_COUNTER_FUNCTIONS} LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', counter);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats', counter);
    END LOOP;
END
$counters$"""


MANAGER_PASSWORD_PLACEHOLDER = "REPLACE-WITH-A-LONG-RANDOM-PASSWORD"


def bootstrap_script() -> str:
    """The bootstrap statements as a psql script for an external server's superuser.

    Returns
    -------
    str
        Statements to run with ``psql -v ON_ERROR_STOP=1``; the manager's
        password is a placeholder to replace first.
    """
    cluster, database = bootstrap_statements(MANAGER_PASSWORD_PLACEHOLDER)
    lines = [
        "-- Run as a superuser: psql -v ON_ERROR_STOP=1 -f this-file.sql",
        f"-- Replace {MANAGER_PASSWORD_PLACEHOLDER} first; the admin URL is then",
        f"-- postgresql://{MANAGER_ROLE}:PASSWORD@HOST:PORT/{DATABASE}",
        "-- Put the vault's master key (64 lowercase hex characters, e.g. from",
        f"-- 'openssl rand -hex 32') in DATA_DIRECTORY/{KEY_FILE}, mode 0600, owned by",
        "-- the server's account, before storing any API key.",
        f"-- The vault agent ({AGENT_ROLE}) has no password: let only the server's own OS",
        "-- account log in as it, as the first line of pg_hba.conf, then reload:",
        f"--   local {DATABASE} {AGENT_ROLE} peer map={AGENT_IDENTITY_MAP}",
        f"--   and in pg_ident.conf: {AGENT_IDENTITY_MAP} SERVER_OS_ACCOUNT {AGENT_ROLE}",
        f"-- and write how to reach it to DATA_DIRECTORY/{AGENT_CONNINFO_FILE} (mode 0600):",
        f"--   host=SOCKET_DIRECTORY port=PORT dbname={DATABASE} user={AGENT_ROLE}",
    ]
    lines += [f"{statement.as_string()};" for statement in cluster]
    lines.append(f"\\connect {DATABASE}")
    lines += [f"{statement.as_string()};" for statement in database]
    return "\n".join(lines) + "\n"


def bootstrap(superuser_url: URL, manager_password: str) -> None:
    """Create quantdesk's roles, database and extension on a fresh server.

    Parameters
    ----------
    superuser_url
        A superuser's URL on the server (any database).
    manager_password
        The password to give the manager role; only its verifier is sent.

    Raises
    ------
    ConfigurationError
        If pgcrypto (PostgreSQL's contrib) is not installed.
    """
    with psycopg.connect(_libpq(superuser_url), autocommit=True) as connection:
        verifier = scram_verifier(connection, MANAGER_ROLE, manager_password)
        cluster, database = bootstrap_statements(verifier)
        for statement in cluster:
            connection.execute(statement)
    with psycopg.connect(_libpq(superuser_url.set(database=DATABASE)), autocommit=True) as target:
        _refuse_missing_extensions(target)
        for statement in database:
            target.execute(statement)


def apply_upkeep(superuser_url: URL) -> None:
    """Re-apply :func:`upkeep_statements` to a cluster set up by an older quantdesk.

    Parameters
    ----------
    superuser_url
        A superuser's URL on the server (any database).
    """
    cluster, database = upkeep_statements()
    with psycopg.connect(_libpq(superuser_url.set(database="postgres")), autocommit=True) as main:
        for statement in cluster:
            main.execute(statement)
        main.execute("SELECT pg_reload_conf()")
    with psycopg.connect(_libpq(superuser_url.set(database=DATABASE)), autocommit=True) as target:
        _refuse_missing_extensions(target)
        for statement in database:
            target.execute(statement)


def _refuse_missing_extensions(connection: psycopg.Connection[Any]) -> None:
    available = {
        row[0]
        for row in connection.execute(
            "SELECT name FROM pg_available_extensions WHERE name IN ('pgcrypto', 'dblink')"
        )
    }
    missing = sorted({"pgcrypto", "dblink"} - available)
    if missing:
        raise ConfigurationError(
            f"PostgreSQL's {' and '.join(missing)} extension is missing: install the contrib "
            "package ('apt-get install postgresql-contrib' or conda's postgresql) and run "
            "'quantdesk db up' again"
        )


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LISTEN_ADDRESS, 0))
        return int(probe.getsockname()[1])
