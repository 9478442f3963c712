"""The embedded PostgreSQL server: ``quantdesk db up|down|status|url`` as an operator runs them."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from sqlalchemy import URL, make_url

from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError
from quantdesk.store import server as server_module
from quantdesk.store import service_account as service_account_module
from quantdesk.store.binaries import MINIMUM_MAJOR_VERSION, find_server_binaries
from quantdesk.store.roles import MANAGER_ROLE
from quantdesk.store.server import SUPERUSER, EmbeddedPostgres
from quantdesk.store.users import add_user
from quantdesk.store.watchdog import is_background_watchdog
from tests.command_line import run_quantdesk

running_as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root hands the server to an unprivileged account"
)


def libpq(url: URL) -> str:
    return str(url.set(drivername="postgresql").render_as_string(hide_password=False))


def without_password(url: URL) -> URL:
    return URL.create(url.drivername, url.username, None, url.host, url.port, url.database)


def server_setting(url: URL, name: str) -> str:
    with psycopg.connect(libpq(url)) as session:
        row = session.execute("SELECT current_setting(%s)", (name,)).fetchone()
    assert row is not None
    return str(row[0])


def postmasters(data_directory: Path) -> list[int]:
    """The pids of the postmasters serving ``data_directory`` (started with ``-D`` and it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-D" in arguments and os.fsencode(data_directory) in arguments:
            found.append(int(entry.name))
    return found


@pytest.fixture
def server_base() -> Iterator[Path]:
    """A directory the server's account can enter; any server left in it is stopped."""
    base = Path(tempfile.mkdtemp(prefix="quantdesk-db-test-"))
    base.chmod(0o755)
    yield base
    run_quantdesk(
        "db", "down", data_dir=base, extra_environment={"QUANTDESK_DATABASE_DIR": str(base / "pg")}
    )
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def db_cli(server_base: Path) -> Callable[..., Any]:
    """Run ``quantdesk db ...`` with the embedded server under ``server_base``."""
    environment = {"QUANTDESK_DATABASE_DIR": str(server_base / "pg")}

    def run(*words: str, **extra: str) -> Any:
        return run_quantdesk(
            "db", *words, data_dir=server_base, extra_environment={**environment, **extra}
        )

    return run


def test_up_status_url_down_is_the_whole_lifecycle_and_idempotent(
    db_cli: Callable[..., Any], server_base: Path
) -> None:
    before = db_cli("status")
    assert before.returncode == 1
    assert "run 'quantdesk db up'" in before.stdout

    first = db_cli("up", "--json")
    assert first.returncode == 0, first.stderr
    started = json.loads(first.stdout)
    assert started["running"]
    assert started["initialized"]
    assert started["revision"]

    watchdog = started["watchdog"]
    assert is_background_watchdog(watchdog)
    again = db_cli("up", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["port"] == started["port"]
    assert json.loads(again.stdout)["watchdog"] == watchdog
    assert "schema at" in db_cli("up").stdout

    status = json.loads(db_cli("status", "--json").stdout)
    assert status == {key: started[key] for key in status}
    expected_account = "quantdesk" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert status["account"] == expected_account

    shown = db_cli("url")
    assert shown.returncode == 0
    admin = make_url(shown.stdout.strip())
    assert admin.username == MANAGER_ROLE
    assert admin.host == "127.0.0.1"
    assert admin.port == started["port"]
    with psycopg.connect(shown.stdout.strip()) as session:
        assert session.execute("SELECT current_user").fetchone() == (MANAGER_ROLE,)

    assert f"watchdog running (pid {watchdog})" in db_cli("status").stdout

    stopped = db_cli("down")
    assert stopped.returncode == 0
    assert "database stopped; watchdog stopped" in stopped.stdout
    assert not is_background_watchdog(watchdog)
    assert not (server_base / "pg" / "watchdog.pid").exists()
    assert db_cli("status").returncode == 1
    assert "was not running" in db_cli("down").stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(shown.stdout.strip(), connect_timeout=5)

    # A pid file naming a process that is no watchdog (this one) is stale.
    (server_base / "pg" / "watchdog.pid").write_text(f"{os.getpid()}\n")
    restarted = db_cli("up", "--json")
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads(restarted.stdout)["port"] == started["port"]
    assert json.loads(restarted.stdout)["watchdog"] not in {None, watchdog, os.getpid()}
    assert is_background_watchdog(json.loads(restarted.stdout)["watchdog"])
    assert (server_base / "pg" / "admin-url").stat().st_mode & 0o777 == 0o600


def test_the_background_watchdog_ends_a_user_who_blocks_another_and_logs_it(
    db_cli: Callable[..., Any], server_base: Path
) -> None:
    at_once = {
        "QUANTDESK_WATCHDOG_BLOCKING_SECONDS": "0",
        "QUANTDESK_WATCHDOG_INTERVAL_SECONDS": "0.1",
    }
    up = db_cli("up", "--json", **at_once)
    assert up.returncode == 0, up.stderr
    admin = make_url(db_cli("url").stdout.strip()).set(drivername="postgresql+psycopg")
    alice, bob = (add_user(admin, f"{name}_{secrets.token_hex(3)}") for name in ("alice", "bob"))
    with (
        psycopg.connect(alice.revealed_url(), autocommit=True) as holding,
        psycopg.connect(bob.revealed_url(), autocommit=True) as waiting,
    ):
        holding.execute("BEGIN")
        holding.execute("LOCK TABLE quantdesk.jobs IN ACCESS EXCLUSIVE MODE")
        inserted = ThreadPoolExecutor(max_workers=1).submit(
            lambda: waiting.execute(
                "INSERT INTO quantdesk.jobs (kind) VALUES ('after the lock') RETURNING kind"
            ).fetchall()
        )
        # Only the background watchdog can end alice's transaction.
        assert inserted.result(timeout=120) == [("after the lock",)]
        with pytest.raises(psycopg.OperationalError):
            holding.execute("SELECT 1")
    # The watchdog may still be writing its line: stopping it waits for it to finish.
    assert "watchdog stopped" in db_cli("down").stdout
    log = (server_base / "pg" / "watchdog.log").read_text()
    assert f"of {alice.name}: it blocked {bob.name} (pid " in log
    assert "LOCK TABLE" not in log


def test_the_server_listens_on_loopback_and_a_socket_with_passwords_only(
    postgres_server: Any,
) -> None:
    admin = postgres_server.admin_url
    assert server_setting(admin, "listen_addresses") == "127.0.0.1"
    socket_directory = server_setting(postgres_server.superuser_url, "unix_socket_directories")
    assert Path(socket_directory) == postgres_server.server.socket_directory
    assert server_setting(admin, "password_encryption") == "scram-sha-256"
    assert server_setting(admin, "log_parameter_max_length") == "0"

    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(libpq(without_password(admin)), connect_timeout=5)
    wrong_password = admin.set(password=secrets.token_hex(8))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(libpq(wrong_password), connect_timeout=5)
    over_socket = make_conninfo(libpq(admin), host=socket_directory)
    with psycopg.connect(over_socket) as session:
        assert session.execute("SELECT current_user").fetchone() == (MANAGER_ROLE,)
    no_password_over_socket = make_conninfo(libpq(without_password(admin)), host=socket_directory)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(no_password_over_socket, connect_timeout=5)


def test_the_manager_is_neither_superuser_nor_inheriting_the_groups(postgres_server: Any) -> None:
    with psycopg.connect(libpq(postgres_server.admin_url)) as session:
        row = session.execute(
            "SELECT rolsuper, rolbypassrls, rolinherit, rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, False, False, True)


@running_as_root
def test_as_root_the_server_runs_as_an_unprivileged_account(postgres_server: Any) -> None:
    data_directory = postgres_server.server.data_directory
    assert data_directory.stat().st_uid != 0
    assert data_directory.stat().st_mode & 0o777 == 0o700
    server_pid = int((data_directory / "postmaster.pid").read_text().split()[0])
    status = Path(f"/proc/{server_pid}/status").read_text()
    real_uid = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]
    assert int(real_uid) == data_directory.stat().st_uid
    # The dedicated account, never the distribution's postgres (whose own
    # cluster's superusers could read our data directory and master key).
    assert pwd.getpwuid(int(real_uid)).pw_name == "quantdesk"
    for pid in postmasters(data_directory):
        assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam("quantdesk").pw_uid
    with psycopg.connect(libpq(postgres_server.superuser_url)) as session:
        assert session.execute("SELECT current_user").fetchone() == (SUPERUSER,)
    assert (postgres_server.server.directory / "superuser-url").stat().st_uid == 0


@running_as_root
def test_a_directory_the_account_cannot_enter_gets_a_clear_error(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    result = run_quantdesk(
        "db",
        "up",
        data_dir=tmp_path,
        extra_environment={"QUANTDESK_DATABASE_DIR": str(private / "pg")},
    )
    assert result.returncode == 2
    assert "cannot reach" in result.stderr
    assert "QUANTDESK_DATABASE_DIR" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_server_programs_name_the_package_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_quantdesk(
        "db",
        "up",
        data_dir=tmp_path,
        extra_environment={
            "QUANTDESK_POSTGRES_BIN_DIR": str(empty),
            "QUANTDESK_DATABASE_DIR": str(tmp_path / "pg"),
        },
    )
    assert result.returncode == 2
    assert "apt-get install postgresql postgresql-contrib" in result.stderr
    assert str(empty) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "pg" / "data").exists()


def test_the_found_programs_are_a_supported_version() -> None:
    binaries = find_server_binaries()
    assert binaries.major_version >= MINIMUM_MAJOR_VERSION
    assert Path(binaries.program("initdb")).exists()


def test_an_external_server_is_used_when_its_admin_url_is_set(
    postgres_server: Any, tmp_path: Path
) -> None:
    environment = {
        "QUANTDESK_ADMIN_DATABASE_URL": libpq(postgres_server.admin_url),
        "QUANTDESK_DATABASE_DIR": str(tmp_path / "unused"),
    }
    up = run_quantdesk("db", "up", "--json", data_dir=tmp_path, extra_environment=environment)
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["external"] is True
    assert not (tmp_path / "unused").exists()
    url = run_quantdesk("db", "url", data_dir=tmp_path, extra_environment=environment)
    assert make_url(url.stdout.strip()).port == postgres_server.admin_url.port
    down = run_quantdesk("db", "down", data_dir=tmp_path, extra_environment=environment)
    assert down.returncode == 2
    assert "external server" in down.stderr
    check = run_quantdesk("db", "check", data_dir=tmp_path, extra_environment=environment)
    assert check.returncode == 0, check.stdout + check.stderr


def test_bootstrap_sql_prepares_what_the_embedded_server_has(
    postgres_server: Any, tmp_path: Path
) -> None:
    result = run_quantdesk("db", "bootstrap-sql", data_dir=tmp_path)
    assert result.returncode == 0
    script = result.stdout
    assert "\\connect quantdesk\n" in script
    with psycopg.connect(libpq(postgres_server.superuser_url)) as session:
        roles = session.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, 'quantdesk_') "
            "AND rolname <> %s",
            (SUPERUSER,),
        ).fetchall()
        extension = session.execute(
            "SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto'"
        ).fetchone()
    assert extension is not None
    for (role,) in roles:
        assert f'CREATE ROLE "{role}"' in script
    assert "REPLACE-WITH-A-LONG-RANDOM-PASSWORD" in script


def test_db_up_after_a_half_finished_up_leaves_exactly_one_server(
    db_cli: Callable[..., Any], server_base: Path
) -> None:
    first = db_cli("up")
    assert first.returncode == 0, first.stderr
    data_directory = server_base / "pg" / "data"
    assert len(postmasters(data_directory)) == 1
    # As if 'db up' had died after starting the server, before writing the admin URL.
    (server_base / "pg" / "admin-url").unlink()

    again = db_cli("up", "--json")

    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["running"]
    assert len(postmasters(data_directory)) == 1
    assert db_cli("status").returncode == 0


def test_a_failed_bootstrap_stops_the_server_it_started(
    server_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.load(data_dir=server_base, database_dir=server_base / "pg")
    server = EmbeddedPostgres(settings)

    def failing_bootstrap(*arguments: object) -> None:
        raise ConfigurationError("bootstrap failed on purpose")

    with monkeypatch.context() as patched:
        patched.setattr(server_module, "bootstrap", failing_bootstrap)
        with pytest.raises(ConfigurationError, match="on purpose"):
            server.up()
    assert postmasters(server.data_directory) == []
    assert not server.initialized

    assert server.up().running
    assert len(postmasters(server.data_directory)) == 1


def test_status_and_down_never_create_the_service_account(
    server_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_account(name: str) -> None:
        return None

    def created_account() -> Any:
        raise AssertionError("a read-only command created the service account")

    monkeypatch.setattr(service_account_module, "_account", no_account)
    monkeypatch.setattr(service_account_module, "_created_account", created_account)
    server = EmbeddedPostgres(Settings.load(data_dir=server_base, database_dir=server_base / "pg"))
    status = server.status()
    assert not status.running
    assert status.account == (
        "quantdesk" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    )
    assert server.down() is False
