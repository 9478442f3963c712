"""Attacks on the vault's audit trail, typed as a hostile user would.

Before 0005 the vault wrote its audit row and ``last_used_at`` in the caller's
transaction, so ``BEGIN; SELECT * FROM read_key(...); ROLLBACK;`` kept the
secret and dropped the trace, and the caller's own transaction statistics told
another user's key from a missing one. Now the vault works in its agent's
session over dblink; these tests try to undo, flood and read around it.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

from quantdesk.store.roles import AGENT_ROLE, DBLINK_SCHEMA
from quantdesk.store.vault import add_api_key
from tests import test_store_vault
from tests.test_store_attacks_vault_settings import flagged_by_db_check, planted_vault_function
from tests.test_store_vault import (
    audit_rows,
    connect,
    libpq_url,
    new_key_id,
    new_secret,
    settings_of,
)

AGENT_MIGRATION = importlib.import_module("quantdesk.store.migrations.versions.0005_vault_agent")
REFUSALS_PER_HOUR = AGENT_MIGRATION.REFUSALS_PER_HOUR
alice = test_store_vault.alice
bob = test_store_vault.bob


def last_used(user: Any, key_id: uuid.UUID) -> Any:
    with connect(user.url) as session:
        row = session.execute(
            "SELECT last_used_at FROM quantdesk.api_key_listing WHERE id = %s", (key_id,)
        ).fetchone()
    return None if row is None else row[0]


def test_a_read_rolled_back_keeps_its_audit_row_and_last_use(alice: Any) -> None:
    secret = new_secret()
    stored = add_api_key("binance", new_key_id(), secret, settings=settings_of(alice))
    assert last_used(alice, stored.id) is None

    with psycopg.connect(libpq_url(alice.url)) as session:
        session.execute("BEGIN")
        by_name = session.execute(
            "SELECT secret FROM quantdesk_vault.read_key('binance', 'default')"
        ).fetchall()
        by_id = session.execute(
            "SELECT secret FROM quantdesk_vault.read_key_by_id(%s)", (stored.id,)
        ).fetchall()
        session.execute("ROLLBACK")

    assert by_name == by_id == [(secret,)]
    reads = [row for row in audit_rows(alice) if row[2] == "read"]
    assert reads == [(alice.name, alice.name, "read", "ok", "binance", "default", stored.id)] * 2
    assert last_used(alice, stored.id) is not None


def test_a_delete_rolled_back_stays_done_and_audited(alice: Any) -> None:
    stored = add_api_key("binance", new_key_id(), new_secret(), settings=settings_of(alice))

    with psycopg.connect(libpq_url(alice.url)) as session:
        session.execute("BEGIN")
        session.execute("SELECT quantdesk_vault.delete_key_by_id(%s)", (stored.id,))
        session.execute("ROLLBACK")

    with connect(alice.url) as session:
        left = session.execute("SELECT count(*) FROM quantdesk.api_key_listing").fetchone()
    assert left == (0,)
    assert audit_rows(alice)[-1] == (
        alice.name,
        alice.name,
        "delete",
        "ok",
        "binance",
        "default",
        stored.id,
    )


def test_bobs_probe_rolled_back_still_reaches_alices_trail(alice: Any, bob: Any) -> None:
    stored = add_api_key("binance", new_key_id(), new_secret(), settings=settings_of(alice))

    with psycopg.connect(libpq_url(bob.url)) as session:
        session.execute("BEGIN")
        answers = [
            session.execute(
                "SELECT * FROM quantdesk_vault.read_key_by_id(%s)", (stored.id,)
            ).fetchall(),
            session.execute("SELECT quantdesk_vault.delete_key_by_id(%s)", (stored.id,)).fetchall(),
        ]
        session.execute("ROLLBACK")

    assert answers == [[], [(False,)]]
    assert [row for row in audit_rows(alice) if row[1] == bob.name] == [
        (alice.name, bob.name, "read", "denied", "binance", "default", stored.id),
        (alice.name, bob.name, "delete", "denied", "binance", "default", stored.id),
    ]
    assert audit_rows(bob) == [
        (bob.name, bob.name, "read", "not_found", None, None, stored.id),
        (bob.name, bob.name, "delete", "not_found", None, None, stored.id),
    ]


def refusal_rows(user: Any, actor: str) -> list[tuple[str, int]]:
    with connect(user.url) as session:
        rows = session.execute(
            "SELECT outcome, repeated FROM quantdesk.api_key_audit "
            "WHERE actor = %s AND outcome <> 'ok' ORDER BY at, id",
            (actor,),
        ).fetchall()
    return [(outcome, repeated) for outcome, repeated in rows]


def test_a_flood_of_probes_is_counted_not_stored(alice: Any, bob: Any) -> None:
    stored = add_api_key("binance", new_key_id(), new_secret(), settings=settings_of(alice))
    probes = REFUSALS_PER_HOUR + 15

    with connect(bob.url) as session:
        for _ in range(probes):
            session.execute("SELECT * FROM quantdesk_vault.read_key_by_id(%s)", (stored.id,))

    for owner, outcome in ((alice, "denied"), (bob, "not_found")):
        rows = refusal_rows(owner, bob.name)
        assert len(rows) == REFUSALS_PER_HOUR
        assert {row_outcome for row_outcome, _ in rows} == {outcome}
        assert sum(1 + repeated for _, repeated in rows) == probes
        assert [repeated for _, repeated in rows[:-1]] == [0] * (REFUSALS_PER_HOUR - 1)


XACT_COUNTERS = (
    "SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, "
    "n_tup_del, n_tup_hot_upd FROM pg_stat_xact_user_tables ORDER BY relname"
)


def probe_traces(session: psycopg.Connection[Any], wanted: uuid.UUID) -> tuple[Any, str]:
    """What bob's own session can measure about one probe: transaction counters and buffers."""
    session.execute("BEGIN")
    session.execute("SELECT * FROM quantdesk_vault.read_key_by_id(%s)", (wanted,))
    counters = session.execute(XACT_COUNTERS).fetchall()
    session.execute("ROLLBACK")
    explained = session.execute(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) "
        "SELECT * FROM quantdesk_vault.read_key_by_id(%s)",
        (wanted,),
    ).fetchall()
    return counters, "\n".join(line for (line,) in explained)


def test_bobs_own_counters_and_buffers_cannot_tell_alices_key_from_none(
    alice: Any, bob: Any
) -> None:
    stored = add_api_key("binance", new_key_id(), new_secret(), settings=settings_of(alice))

    with psycopg.connect(libpq_url(bob.url), autocommit=True) as session:
        probe_traces(session, uuid.uuid4())  # warm the caches either probe would fill
        foreign = probe_traces(session, stored.id)
        missing = probe_traces(session, uuid.uuid4())

    assert "Buffers" in foreign[1] or "Function Scan" in foreign[1]
    assert foreign == missing


@pytest.fixture
def in_session_probe(postgres_server: Any, bob: Any) -> Iterator[str]:
    """The vault before 0005: the refusal recorded in the caller's own transaction."""
    with planted_vault_function(
        postgres_server,
        bob.name,
        "probe(id uuid)",
        "RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$ SELECT "
        "quantdesk_vault.record_miss(SESSION_USER::text, 'read', NULL, NULL, id) $$",
    ) as name:
        yield name


def test_the_old_in_session_refusal_would_have_told_them_apart(
    alice: Any, bob: Any, in_session_probe: str
) -> None:
    stored = add_api_key("binance", new_key_id(), new_secret(), settings=settings_of(alice))

    def counters_after(wanted: uuid.UUID) -> Any:
        with psycopg.connect(libpq_url(bob.url)) as session:
            session.execute(f"SELECT {in_session_probe}(%s)", (wanted,))
            return session.execute(XACT_COUNTERS).fetchall()

    assert counters_after(stored.id) != counters_after(uuid.uuid4())


def test_counters_summed_over_every_user_are_closed_to_users(
    alice: Any, postgres_server: Any
) -> None:
    with connect(alice.url) as session:
        for query in (
            "SELECT n_tup_ins FROM pg_stat_user_tables",
            "SELECT tup_inserted FROM pg_stat_database",
            "SELECT pg_stat_get_tuples_inserted('quantdesk.api_key_audit'::regclass)",
            "SELECT heap_blks_read FROM pg_statio_user_tables",
        ):
            with pytest.raises(pg_errors.InsufficientPrivilege):
                session.execute(query)
        own = session.execute("SELECT count(*) FROM pg_stat_xact_user_tables").fetchone()
    assert own is not None

    counter = "pg_stat_get_tuples_inserted(oid)"
    flagged = flagged_while(
        postgres_server,
        f"GRANT EXECUTE ON FUNCTION {counter} TO PUBLIC",
        f"REVOKE EXECUTE ON FUNCTION {counter} FROM PUBLIC",
        f"function {counter}",
    )
    assert len(flagged) == 1


def test_users_reach_neither_dblink_nor_the_agents_functions(alice: Any) -> None:
    with connect(alice.url) as session:
        for query in (
            f"SELECT {DBLINK_SCHEMA}.dblink_connect_u('x', 'dbname=quantdesk')",
            f"SELECT * FROM {DBLINK_SCHEMA}.dblink('dbname=quantdesk', 'SELECT 1') AS t(i int)",
            "SELECT quantdesk_vault.agent_read('someone', 'binance', 'default', NULL)",
            "SELECT quantdesk_vault.agent_call('SELECT 1')",
            "SELECT quantdesk_vault.record_audit('x', 'x', 'read', 'ok', NULL, NULL, NULL)",
        ):
            with pytest.raises(pg_errors.InsufficientPrivilege):
                session.execute(query)
        with pytest.raises(pg_errors.UndefinedFunction):
            session.execute("SELECT dblink_connect('dbname=quantdesk')")


def flagged_while(postgres_server: Any, plant: str, undo: str, subject: str) -> list[str]:
    """What ``db check`` says about ``subject`` while a superuser's ``plant`` is in place."""
    with connect(postgres_server.superuser_url) as session:
        session.execute(plant)
    try:
        return flagged_by_db_check(postgres_server, subject)
    finally:
        with connect(postgres_server.superuser_url) as session:
            session.execute(undo)


def test_db_check_flags_dblink_open_to_users(postgres_server: Any) -> None:
    function = f"{DBLINK_SCHEMA}.dblink(text, text)"
    flagged = flagged_while(
        postgres_server,
        f"GRANT EXECUTE ON FUNCTION {function} TO PUBLIC",
        f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC",
        f"function {DBLINK_SCHEMA}.dblink(text,text)",
    )
    assert len(flagged) == 1
    assert "REVOKE EXECUTE" in flagged[0]


def test_db_check_flags_an_agent_that_cannot_log_in(postgres_server: Any) -> None:
    flagged = flagged_while(
        postgres_server,
        f"ALTER ROLE {AGENT_ROLE} NOLOGIN",
        f"ALTER ROLE {AGENT_ROLE} LOGIN",
        f"role {AGENT_ROLE}",
    )
    assert len(flagged) == 1


def socket_directory(postgres_server: Any) -> str:
    with connect(postgres_server.superuser_url) as session:
        row = session.execute("SHOW unix_socket_directories").fetchone()
    assert row is not None
    return str(row[0]).split(",")[0].strip()


def server_os_account(postgres_server: Any) -> str:
    with connect(postgres_server.superuser_url) as session:
        row = session.execute("SHOW data_directory").fetchone()
    assert row is not None
    import pwd

    return pwd.getpwuid(os.stat(row[0]).st_uid).pw_name


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another OS account")
def test_no_other_os_account_logs_in_as_the_agent(postgres_server: Any) -> None:
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql (PostgreSQL's client) is not installed")
    hostile_account = "nobody"
    assert hostile_account != server_os_account(postgres_server)
    port = postgres_server.admin_url.port
    attempts = {
        "socket": f"host={socket_directory(postgres_server)} port={port}",
        "loopback": f"host=127.0.0.1 port={port}",
    }
    for route, where in attempts.items():
        typed = subprocess.run(
            [
                "runuser",
                "-u",
                hostile_account,
                "--",
                psql,
                f"{where} dbname=quantdesk user={AGENT_ROLE} connect_timeout=5",
                "-w",
                "-c",
                "SELECT 1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": os.environ.get("PATH", ""), "HOME": "/"},
        )
        assert typed.returncode != 0, route
        assert re.search(r"authentication failed|rejects connection|no password", typed.stderr), (
            route,
            typed.stderr,
        )
