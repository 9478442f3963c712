"""A hostile user turns on every setting that prints plans, then drives the vault by hand.

Before the vault's definer functions pinned their settings, ``debug_print_plan``
with ``client_min_messages = log`` and ``plan_cache_mode = force_custom_plan``
showed the master key and the secret as constants of plan trees, in the
user's notices and in the server log. Since 0005 the master key is no longer a
value in the user's session at all (the agent decrypts), so the pins are a
second wall. The last tests plant that old design in a scratch function to show
the attack itself is real, and take the pins off an entry point to show it now
leaks nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from quantdesk.store.catalog_lint import check_catalog
from quantdesk.store.definer_pins import PINNED_SETTINGS
from quantdesk.store.roles import OWNER_ROLE, VAULT_ROLE
from quantdesk.store.vault import KEY_FILE
from tests.test_store_vault import connect, server_data_directory

HOSTILE_SETTINGS = {
    "client_min_messages": "debug5",
    "debug_print_parse": "on",
    "debug_print_rewritten": "on",
    "debug_print_plan": "on",
    "debug_pretty_print": "off",
    "plan_cache_mode": "force_custom_plan",
    "log_parameter_max_length_on_error": "-1",
    "trace_sort": "on",
    "trace_notify": "on",
    "force_parallel_mode": "on",
}
"""Every user-settable setting that makes the server print more, turned all the way up."""


def hostile_session(url: Any, heard: list[str]) -> psycopg.Connection[Any]:
    """A session as the user with every printing setting on; notices land in ``heard``."""
    session = connect(url)
    session.add_notice_handler(
        lambda notice: heard.append(f"{notice.message_primary}\n{notice.message_detail or ''}")
    )
    for name, value in HOSTILE_SETTINGS.items():
        session.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    return session


def as_plan_bytes(text: str) -> str:
    """How a text constant's characters appear in a printed plan tree: decimal byte values."""
    return " ".join(str(byte) for byte in text.encode())


def revealed(everything: str, values: dict[str, str]) -> list[str]:
    """The names of ``values`` found in ``everything``, as text or as plan-tree bytes."""
    flat = re.sub(r"\s+", " ", everything)
    return [
        name
        for name, value in values.items()
        if value in everything or as_plan_bytes(value[:16]) in flat
    ]


def vault_round_trip(session: psycopg.Connection[Any], key_id: str, secret: str) -> str:
    """Store, read (by name and id), then delete a key through the vault functions only."""
    plain = key_id.encode() + secret.encode()
    row = session.execute("SELECT quantdesk_vault.new_pad(%s)", (len(plain),)).fetchone()
    assert row is not None
    masked = bytes(left ^ right for left, right in zip(plain, row[0], strict=True))
    split = len(key_id.encode())
    added = session.execute(
        "SELECT quantdesk_vault.add_key('binance', 'default', %s, %s)",
        (masked[:split], masked[split:]),
    ).fetchone()
    assert added is not None
    assert added[0] is not None
    by_name = session.execute(
        "SELECT key_id, secret FROM quantdesk_vault.read_key('binance', 'default')"
    ).fetchall()
    by_id = session.execute(
        "SELECT secret FROM quantdesk_vault.read_key_by_id(%s)", (added[0],)
    ).fetchall()
    assert by_name == [(key_id, secret)]
    assert by_id == [(secret,)]
    session.execute("SELECT quantdesk_vault.delete_key('binance', 'default')")
    return str(added[0])


@pytest.fixture
def mallory(database_user: Callable[..., Any]) -> Any:
    """The hostile user."""
    return database_user("mallory")


@pytest.fixture
def master_key(postgres_server: Any) -> str:
    """The vault's master key, read from the server's data directory as only the server can."""
    return (server_data_directory(postgres_server) / KEY_FILE).read_text().strip()


@pytest.fixture
def log_since_now(postgres_server: Any) -> Callable[[], str]:
    """A function returning what the server logged since the test started."""
    log_path = Path(postgres_server.log_path)
    start = log_path.stat().st_size

    def read() -> str:
        return log_path.read_bytes()[start:].decode(errors="replace")

    return read


def test_no_printing_setting_shows_the_master_key_or_the_secret(
    mallory: Any, master_key: str, log_since_now: Callable[[], str]
) -> None:
    heard: list[str] = []
    key_id, secret = f"AK{secrets.token_hex(10).upper()}", f"sk-{secrets.token_hex(20)}"
    with hostile_session(mallory.url, heard) as session:
        vault_round_trip(session, key_id, secret)

    assert any("parse tree" in notice or "plan" in notice for notice in heard), (
        "the hostile settings printed nothing at all: the test would prove nothing"
    )
    values = {"master key": master_key, "secret": secret, "key id": key_id}
    assert revealed("\n".join(heard), values) == []
    assert revealed(log_since_now(), values) == []


def test_every_vault_definer_function_carries_every_pin(postgres_server: Any) -> None:
    with connect(postgres_server.superuser_url) as session:
        rows = session.execute(
            "SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}') FROM pg_proc p "
            "WHERE p.prosecdef AND p.pronamespace = 'quantdesk_vault'::regnamespace"
        ).fetchall()
    assert len(rows) >= 7
    for signature, configuration in rows:
        pinned = dict(entry.split("=", 1) for entry in configuration)
        assert pinned.get("search_path") == '""', signature
        for name, value in PINNED_SETTINGS.items():
            if name != "search_path":
                assert pinned.get(name) == value, (signature, name, pinned)


@pytest.fixture
def unpinned_add_key(postgres_server: Any) -> Iterator[str]:
    """``add_key`` with its debug pins taken off, as before the fix; put back afterwards."""
    signature = "quantdesk_vault.add_key(text,text,bytea,bytea,boolean)"
    removed = ("debug_print_plan", "client_min_messages", "plan_cache_mode")
    with connect(postgres_server.admin_url) as session:
        session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(VAULT_ROLE)))
        for name in removed:
            session.execute(f"ALTER FUNCTION {signature} RESET {name}")
    try:
        yield signature
    finally:
        with connect(postgres_server.admin_url) as session:
            session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(VAULT_ROLE)))
            for name in removed:
                session.execute(f"ALTER FUNCTION {signature} SET {name} = {PINNED_SETTINGS[name]}")


def flagged_by_db_check(postgres_server: Any, subject: str) -> list[str]:
    """The lines of ``quantdesk db check`` about ``subject`` (e.g. ``function x.f(text)``)."""
    problems = [str(problem) for problem in check_catalog(postgres_server.admin_url)]
    return [line for line in problems if line.startswith(f"{subject}:")]


@contextmanager
def planted_vault_function(
    postgres_server: Any, grantee: str, signature: str, definition: str
) -> Iterator[str]:
    """A function of the vault role in a scratch schema that only ``grantee`` may run.

    ``definition`` is the rest of ``CREATE FUNCTION schema.signature ...`` after the
    signature; the schema and all in it are dropped afterwards. Yields the qualified name.
    """
    schema = f"vault_scratch_{secrets.token_hex(3)}"
    with connect(postgres_server.superuser_url) as session:
        session.execute(
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(schema), sql.Identifier(VAULT_ROLE)
            )
        )
        session.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(schema), sql.Identifier(grantee)
            )
        )
    try:
        with connect(postgres_server.admin_url) as session:
            session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(VAULT_ROLE)))
            session.execute(f"CREATE FUNCTION {schema}.{signature} {definition}")
            session.execute(f"REVOKE ALL ON FUNCTION {schema}.{signature} FROM PUBLIC")
            session.execute(
                sql.SQL(f"GRANT EXECUTE ON FUNCTION {schema}.{signature} TO {{}}").format(
                    sql.Identifier(grantee)
                )
            )
        yield f"{schema}.{signature.partition('(')[0]}"
    finally:
        with connect(postgres_server.superuser_url) as session:
            session.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def planted_leak(postgres_server: Any, mallory: Any) -> Iterator[str]:
    """The vault before 0005: a definer function encrypting with the master key inside the
    caller's session, without pins."""
    with planted_vault_function(
        postgres_server,
        mallory.name,
        "seal(secret text)",
        """RETURNS bytea LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
        DECLARE
            master text := (SELECT e.master FROM quantdesk_vault.encryption_key() AS e);
            sealed bytea;
        BEGIN
            SELECT public.pgp_sym_encrypt(secret, master) INTO sealed;
            RETURN sealed;
        END $$""",
    ) as name:
        yield name


def test_without_the_pins_the_attack_reads_the_master_key_and_db_check_says_so(
    mallory: Any, master_key: str, postgres_server: Any, planted_leak: str
) -> None:
    flagged = flagged_by_db_check(postgres_server, f"function {planted_leak}(text)")
    assert len(flagged) == 1
    assert "debug_print_plan" in flagged[0]
    assert "SET plan_cache_mode" in flagged[0]

    heard: list[str] = []
    with hostile_session(mallory.url, heard) as session:
        session.execute(sql.SQL("SELECT {}(%s)").format(sql.SQL(planted_leak)), ("anything",))
    assert "master key" in revealed("\n".join(heard), {"master key": master_key})


def test_an_unpinned_entry_point_leaks_nothing_now_but_db_check_still_flags_it(
    mallory: Any, master_key: str, postgres_server: Any, unpinned_add_key: str
) -> None:
    assert len(flagged_by_db_check(postgres_server, f"function {unpinned_add_key}")) == 1

    heard: list[str] = []
    key_id, secret = f"AK{secrets.token_hex(10).upper()}", f"sk-{secrets.token_hex(20)}"
    with hostile_session(mallory.url, heard) as session:
        vault_round_trip(session, key_id, secret)
    assert any("plan" in notice for notice in heard)
    assert revealed("\n".join(heard), {"master key": master_key, "secret": secret}) == []


def test_db_check_flags_a_planted_definer_function_without_pins(postgres_server: Any) -> None:
    schema = f"pins_scratch_{secrets.token_hex(3)}"
    with connect(postgres_server.admin_url) as session:
        session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        session.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        session.execute(
            f"CREATE FUNCTION {schema}.only_path() RETURNS int LANGUAGE sql SECURITY DEFINER "
            "SET search_path = '' AS 'SELECT 1'"
        )
        session.execute(f"REVOKE EXECUTE ON FUNCTION {schema}.only_path() FROM PUBLIC")
    try:
        problems = [str(problem) for problem in check_catalog(postgres_server.admin_url)]
    finally:
        with connect(postgres_server.superuser_url) as session:
            session.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    flagged = [line for line in problems if line.startswith(f"function {schema}.only_path()")]
    assert len(flagged) == 1
    for name in PINNED_SETTINGS:
        if name != "search_path":
            assert f"SET {name} = " in flagged[0]
