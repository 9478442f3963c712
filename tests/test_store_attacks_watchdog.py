"""A hostile user holds the others up; the watchdog ends their session and logs it.

Each attack is what the user would type at psql on their own URL: a table
lock held in an open transaction, a transaction left idle with the idle
timeout switched off, settings given to their own role. Elapsed times are
the server's, so a limit of 0 acts at once and a limit of an hour never does;
no test sleeps.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import URL

from quantdesk.cli import main
from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError, InvalidInputError
from quantdesk.store.catalog_lint import check_catalog
from quantdesk.store.roles import MANAGER_ROLE
from quantdesk.store.watchdog import (
    BLOCKING,
    IDLE_IN_TRANSACTION,
    SweepReport,
    WatchdogLimits,
    sweep,
    watch,
)
from tests import test_store_vault
from tests.test_store_attacks_roles import is_ended, role_settings
from tests.test_store_users import connect, conninfo

AT_ONCE = 0.0
AN_HOUR = 3600.0
WAIT_TIMEOUT_SECONDS = 30.0


def limits(*, blocking: float = AN_HOUR, idle: float = AN_HOUR) -> WatchdogLimits:
    return WatchdogLimits(blocking_seconds=blocking, idle_in_transaction_seconds=idle)


def backend_pid(session: psycopg.Connection[Any]) -> int:
    row = session.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def wait_until_waiting_for_a_lock(observer: psycopg.Connection[Any], pid: int) -> None:
    """Return once session ``pid`` waits for a lock, asking the server; fail after a while."""
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        waiting = observer.execute(
            "SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)
        ).fetchone()
        if waiting is not None:
            return
    raise AssertionError(f"session {pid} never began waiting for a lock")


def in_background(session: psycopg.Connection[Any], statement: str) -> Future[Any]:
    """Run ``statement`` on ``session`` in a thread; the future holds its result or error."""
    outcome: Future[Any] = Future()

    def run() -> None:
        try:
            cursor = session.execute(statement)
            outcome.set_result(cursor.fetchall() if cursor.description else [])
        except BaseException as error:
            outcome.set_exception(error)

    threading.Thread(target=run, daemon=True).start()
    return outcome


@pytest.fixture
def observer(postgres_server: Any) -> Iterator[psycopg.Connection[Any]]:
    """A superuser session that watches pg_locks."""
    with psycopg.connect(conninfo(postgres_server.superuser_url), autocommit=True) as session:
        yield session


@pytest.fixture
def sessions() -> Iterator[Callable[[URL], psycopg.Connection[Any]]]:
    """``open(url)`` opens an autocommit session; all are closed afterwards."""
    opened: list[psycopg.Connection[Any]] = []

    def open_session(url: URL) -> psycopg.Connection[Any]:
        session = psycopg.connect(conninfo(url), autocommit=True)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()


alice = test_store_vault.alice
"""The hostile user."""
bob = test_store_vault.bob
"""A user who only wants to get on with their work."""


def alice_locks_the_jobs_and_bob_waits(
    alice: Any, bob: Any, sessions: Callable[..., Any], observer: Any
) -> tuple[Any, Any, Future[Any]]:
    holding = sessions(alice.url)
    holding.execute("BEGIN")
    holding.execute("LOCK TABLE quantdesk.jobs IN ACCESS EXCLUSIVE MODE")
    waiting = sessions(bob.url)
    insert = waits_for_a_lock(
        observer,
        waiting,
        "INSERT INTO quantdesk.jobs (kind) VALUES ('after the lock') RETURNING kind",
    )
    return holding, waiting, insert


def waits_for_a_lock(
    observer: psycopg.Connection[Any], session: psycopg.Connection[Any], statement: str
) -> Future[Any]:
    """Start ``statement`` on ``session`` and return once it waits for a lock."""
    pid = backend_pid(session)
    outcome = in_background(session, statement)
    wait_until_waiting_for_a_lock(observer, pid)
    return outcome


def test_a_user_holding_a_table_lock_is_ended_and_the_waiting_user_carries_on(
    alice: Any,
    bob: Any,
    sessions: Callable[..., Any],
    observer: Any,
    postgres_server: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    holding, waiting, insert = alice_locks_the_jobs_and_bob_waits(alice, bob, sessions, observer)
    alice_pid = backend_pid(holding)
    bob_pid = int(waiting.pgconn.backend_pid)

    with caplog.at_level(logging.WARNING, logger="quantdesk.store.watchdog"):
        report = sweep(postgres_server.admin_url, limits(blocking=AT_ONCE))

    assert insert.result(timeout=WAIT_TIMEOUT_SECONDS) == [("after the lock",)]
    assert is_ended(holding)
    assert not is_ended(waiting)
    [ended] = report.ended
    assert (ended.role, ended.pid, ended.rule) == (alice.name, alice_pid, BLOCKING)
    assert [(blocked.role, blocked.pid) for blocked in ended.blocked] == [(bob.name, bob_pid)]
    assert ended.seconds >= 0
    [logged] = [record.getMessage() for record in caplog.records]
    assert f"pid {alice_pid} of {alice.name}" in logged
    assert f"blocked {bob.name} (pid {bob_pid}) for" in logged
    assert "LOCK" not in logged.upper().replace("BLOCKED", "")
    assert "INSERT" not in logged.upper()


def test_a_lock_held_for_less_than_the_limit_ends_nothing(
    alice: Any, bob: Any, sessions: Callable[..., Any], observer: Any, postgres_server: Any
) -> None:
    holding, _, insert = alice_locks_the_jobs_and_bob_waits(alice, bob, sessions, observer)

    report = sweep(postgres_server.admin_url, limits(blocking=AN_HOUR, idle=AN_HOUR))

    assert report.ended == ()
    assert not insert.done()
    assert holding.execute("SELECT count(*) FROM quantdesk.jobs").fetchone() is not None
    holding.execute("ROLLBACK")
    assert insert.result(timeout=WAIT_TIMEOUT_SECONDS) == [("after the lock",)]


def test_a_user_who_switches_off_the_idle_timeout_is_ended_by_the_idle_rule(
    alice: Any, bob: Any, sessions: Callable[..., Any], postgres_server: Any
) -> None:
    idling = sessions(alice.url)
    alice_pid = backend_pid(idling)
    idling.execute("SET idle_in_transaction_session_timeout = 0")
    idling.execute("BEGIN")
    idling.execute("SELECT count(*) FROM quantdesk.jobs")
    outside_a_transaction = sessions(bob.url)
    outside_a_transaction.execute("SELECT 1")

    within = sweep(postgres_server.admin_url, limits(idle=AN_HOUR))
    report = sweep(postgres_server.admin_url, limits(idle=AT_ONCE))

    assert within.ended == ()
    [ended] = report.ended
    assert (ended.role, ended.pid, ended.rule) == (alice.name, alice_pid, IDLE_IN_TRANSACTION)
    assert ended.blocked == ()
    assert is_ended(idling)
    assert not is_ended(outside_a_transaction)


def test_the_manager_superusers_other_roles_and_waiting_users_are_never_ended(
    alice: Any,
    bob: Any,
    sessions: Callable[..., Any],
    observer: Any,
    postgres_server: Any,
) -> None:
    outsider_name = f"outsider_{secrets.token_hex(4)}"
    outsider = sql.Identifier(outsider_name)
    password = secrets.token_urlsafe(16)
    observer.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(outsider, sql.Literal(password))
    )
    observer.execute(sql.SQL("GRANT CONNECT ON DATABASE quantdesk TO {}").format(outsider))
    try:
        manager = sessions(postgres_server.admin_url)
        manager.execute("BEGIN")
        manager.execute("SELECT pg_advisory_xact_lock(9001)")
        other_role = sessions(
            postgres_server.admin_url.set(username=outsider_name, password=password)
        )
        other_role.execute("BEGIN")
        other_role.execute("SELECT pg_advisory_xact_lock(9002)")
        superuser = sessions(postgres_server.superuser_url)
        superuser.execute("BEGIN")
        superuser.execute("LOCK TABLE quantdesk.jobs IN ACCESS EXCLUSIVE MODE")
        holders = (manager, other_role, superuser)
        # Alice queues behind the superuser and, ahead of bob, blocks him too:
        # in that queue she is a victim, not its cause.
        queued = sessions(alice.url)
        queued.execute("BEGIN")
        queued_lock = waits_for_a_lock(observer, queued, "LOCK TABLE quantdesk.jobs IN SHARE MODE")
        advisory = waits_for_a_lock(
            observer, sessions(bob.url), "SELECT pg_advisory_lock(9001), pg_advisory_lock(9002)"
        )
        behind_alice = sessions(bob.url)
        insert = waits_for_a_lock(
            observer, behind_alice, "INSERT INTO quantdesk.jobs (kind) VALUES ('queued')"
        )
        blockers = observer.execute(
            "SELECT pg_blocking_pids(%s)", (behind_alice.pgconn.backend_pid,)
        ).fetchone()
        assert blockers is not None
        assert queued.pgconn.backend_pid in blockers[0], "the test means alice to block bob"

        report = sweep(postgres_server.admin_url, limits(blocking=AT_ONCE, idle=AN_HOUR))

        assert report.ended == ()
        assert not any(is_ended(session) for session in holders)
        assert not queued_lock.done()
        for session in holders:
            session.execute("ROLLBACK")
        assert queued_lock.result(timeout=WAIT_TIMEOUT_SECONDS) == []
        queued.execute("ROLLBACK")
        advisory.result(timeout=WAIT_TIMEOUT_SECONDS)
        assert insert.result(timeout=WAIT_TIMEOUT_SECONDS) == []
    finally:
        observer.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usesysid = to_regrole(%s)",
            (outsider_name,),
        )
        observer.execute(sql.SQL("REVOKE CONNECT ON DATABASE quantdesk FROM {}").format(outsider))
        observer.execute(sql.SQL("DROP ROLE {}").format(outsider))


def test_settings_a_user_gave_their_own_role_are_reset_by_the_sweep(
    alice: Any, bob: Any, postgres_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    name = sql.Identifier(alice.name)
    with connect(alice.url) as session:
        session.execute(sql.SQL("ALTER ROLE {} SET work_mem = '1GB'").format(name))
        session.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE quantdesk SET role = 'quantdesk_users'").format(name)
        )
    untouched = role_settings(postgres_server.superuser_url, bob.name)
    assert role_settings(postgres_server.superuser_url, alice.name) != untouched

    with caplog.at_level(logging.WARNING, logger="quantdesk.store.watchdog"):
        report = sweep(postgres_server.admin_url, limits())

    assert report.reset_roles == {alice.name: ["role", "work_mem"]}
    assert report.ended == ()
    assert role_settings(postgres_server.superuser_url, alice.name) == untouched
    with connect(alice.url) as session:
        assert session.execute("SELECT current_user").fetchone() == (alice.name,)
        assert session.execute("SHOW work_mem").fetchone() != ("1GB",)
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert alice.name in logged
    assert "1GB" not in logged
    assert sweep(postgres_server.admin_url, limits()).reset_roles == {}


def test_db_check_and_the_sweep_name_the_grant_a_manager_without_pg_read_all_stats_needs(
    postgres_server: Any, observer: Any
) -> None:
    observer.execute(f"REVOKE pg_read_all_stats FROM {MANAGER_ROLE}")
    try:
        found = [str(problem) for problem in check_catalog(postgres_server.admin_url)]
        with pytest.raises(ConfigurationError) as refused:
            sweep(postgres_server.admin_url, limits())
    finally:
        observer.execute(f"GRANT pg_read_all_stats TO {MANAGER_ROLE}")
    assert any(
        line.startswith(f"role {MANAGER_ROLE}: is not a member of pg_read_all_stats")
        and f"GRANT pg_read_all_stats TO {MANAGER_ROLE}" in line
        for line in found
    ), found
    assert f"GRANT pg_read_all_stats TO {MANAGER_ROLE}" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert [str(problem) for problem in check_catalog(postgres_server.admin_url)] == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"blocking_seconds": -1}, "blocking_seconds must be a number of seconds >= 0"),
        ({"idle_in_transaction_seconds": math.nan}, "idle_in_transaction_seconds must be"),
        ({"blocking_seconds": math.inf}, "blocking_seconds must be"),
        ({"blocking_seconds": True}, "blocking_seconds must be"),
        ({"blocking_seconds": "30"}, "blocking_seconds must be"),
    ],
)
def test_bad_limits_are_refused_in_one_line(values: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as refused:
        WatchdogLimits(**values)
    assert "\n" not in str(refused.value)
    assert "QUANTDESK_WATCHDOG_" in str(refused.value)


def test_limits_are_frozen_take_no_unknown_field_and_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = WatchdogLimits()
    assert (defaults.blocking_seconds, defaults.idle_in_transaction_seconds) == (30.0, 600.0)
    with pytest.raises(TypeError):
        WatchdogLimits(blocking_second=1)  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        defaults.blocking_seconds = 1  # type: ignore[misc]
    monkeypatch.setenv("QUANTDESK_WATCHDOG_BLOCKING_SECONDS", "12.5")
    monkeypatch.setenv("QUANTDESK_WATCHDOG_IDLE_IN_TRANSACTION_SECONDS", "90")
    assert WatchdogLimits.from_settings(Settings.load()) == limits(blocking=12.5, idle=90)
    with pytest.raises(ConfigurationError, match="watchdog_blocking_seconds"):
        Settings.load(watchdog_blocking_seconds=-1)
    with pytest.raises(ConfigurationError, match="watchdog_interval_seconds"):
        Settings.load(watchdog_interval_seconds=0)


def test_the_loop_sweeps_until_told_to_stop_and_outlives_an_unreachable_server(
    alice: Any,
    bob: Any,
    sessions: Callable[..., Any],
    observer: Any,
    postgres_server: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    holding, _, insert = alice_locks_the_jobs_and_bob_waits(alice, bob, sessions, observer)
    pauses: list[float] = []
    reports: list[SweepReport] = []

    def wait(seconds: float) -> bool:
        pauses.append(seconds)
        return len(pauses) == 3

    sweeps = watch(
        postgres_server.admin_url,
        limits(blocking=AT_ONCE),
        interval_seconds=7.5,
        wait=wait,
        on_sweep=reports.append,
    )

    assert (sweeps, pauses) == (3, [7.5, 7.5, 7.5])
    assert [report.acted for report in reports] == [True, False, False]
    assert reports[0].ended[0].role == alice.name
    assert insert.result(timeout=WAIT_TIMEOUT_SECONDS) == [("after the lock",)]
    assert is_ended(holding)

    nowhere = postgres_server.admin_url.set(port=1)
    with caplog.at_level(logging.WARNING, logger="quantdesk.store.watchdog"):
        tried = watch(nowhere, limits(), interval_seconds=1, wait=lambda _: False, max_sweeps=2)
    assert tried == 2
    assert sum("database is unavailable" in record.getMessage() for record in caplog.records) == 2
    with pytest.raises(InvalidInputError, match="interval must be a number of seconds > 0"):
        watch(nowhere, limits(), interval_seconds=0, wait=lambda _: True)


def test_db_watchdog_once_ends_the_blocker_and_prints_it(
    alice: Any,
    bob: Any,
    sessions: Callable[..., Any],
    observer: Any,
    postgres_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin = postgres_server.admin_url.set(drivername="postgresql")
    monkeypatch.setenv("QUANTDESK_ADMIN_DATABASE_URL", admin.render_as_string(hide_password=False))
    _, _, insert = alice_locks_the_jobs_and_bob_waits(alice, bob, sessions, observer)

    assert main(["db", "watchdog", "--once", "--blocking-seconds", "0", "--json"]) == 0

    printed = capsys.readouterr().out
    assert f'"role": "{alice.name}"' in printed
    assert '"rule": "blocking"' in printed
    insert.result(timeout=WAIT_TIMEOUT_SECONDS)
    assert main(["db", "watchdog", "--once"]) == 0
    assert "nothing to end" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--once", "--blocking-seconds", "-1"], "watchdog_blocking_seconds"),
        (["--interval", "0"], "watchdog_interval_seconds"),
        (["--once", "--idle-seconds", "soon"], "'soon' is not a valid float"),
    ],
)
def test_db_watchdog_refuses_bad_options_in_one_line(
    words: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "watchdog", *words]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert len(error.strip().splitlines()) == 1
