"""The API-key vault against a real PostgreSQL: round trips, isolation, audit, rotation."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import pickle
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy import URL

from quantdesk.config import Settings
from quantdesk.errors import ApiKeyNotFoundError, InvalidInputError, StoreError
from quantdesk.store.vault import (
    KEY_FILE,
    NEXT_KEY_FILE,
    ApiKey,
    add_api_key,
    get_api_key,
    get_api_key_by_id,
    key_id_hint,
    list_api_keys,
    remove_api_key,
    remove_api_key_by_id,
    rotate_master_key,
    write_master_key_file,
)
from tests.command_line import run_quantdesk

AuditRow = tuple[str, str, str, str, str | None, str | None, uuid.UUID | None]


def settings_of(user: Any) -> Settings:
    """Settings connecting as ``user`` (a ``database_user`` fixture result)."""
    return Settings.load(database_url=user.url.render_as_string(hide_password=False))


def libpq_url(url: URL) -> str:
    """A SQLAlchemy URL as a libpq connection string, password included."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: URL) -> psycopg.Connection[Any]:
    """A psycopg connection in autocommit mode, for direct SQL."""
    return psycopg.connect(libpq_url(url), autocommit=True)


def new_secret() -> str:
    """A fresh secret no log line could contain by chance."""
    return f"sk-{secrets.token_hex(20)}"


def new_key_id() -> str:
    """A fresh 24-character key id."""
    return f"AK{secrets.token_hex(11).upper()}"


def audit_rows(user: Any) -> list[AuditRow]:
    """The audit rows ``user`` can see, oldest first."""
    with connect(user.url) as connection:
        rows = connection.execute(
            "SELECT owner, actor, action, outcome, provider, label, api_key_id "
            "FROM quantdesk.api_key_audit ORDER BY at, id"
        ).fetchall()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def stored_rows(postgres_server: Any, owner: str) -> dict[str, tuple[bytes, bytes, str]]:
    """Each of ``owner``'s keys by provider: both ciphertexts and the master key fingerprint."""
    with connect(postgres_server.superuser_url) as connection:
        rows = connection.execute(
            "SELECT provider, key_id_ciphertext, secret_ciphertext, master_key_fingerprint "
            "FROM quantdesk.api_keys WHERE owner = %s",
            (owner,),
        ).fetchall()
    return {row[0]: (bytes(row[1]), bytes(row[2]), row[3]) for row in rows}


def fingerprint(key: str) -> str:
    """The vault's fingerprint of a master key: hex SHA-256 of its text."""
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture
def alice(database_user: Callable[..., Any]) -> Any:
    """A fresh non-admin user."""
    return database_user("alice")


@pytest.fixture
def bob(database_user: Callable[..., Any]) -> Any:
    """Another fresh non-admin user."""
    return database_user("bob")


def server_data_directory(postgres_server: Any) -> Path:
    """The data directory of the suite's server, where the master key files live."""
    with connect(postgres_server.superuser_url) as connection:
        row = connection.execute("SHOW data_directory").fetchone()
    assert row is not None
    return Path(row[0])


@pytest.fixture
def data_directory(postgres_server: Any) -> Iterator[Path]:
    """The server's data directory; a master key file the test deleted is put back.

    A key file a rotation replaced stays: the stored keys are encrypted with it.
    """
    directory = server_data_directory(postgres_server)
    original = (directory / KEY_FILE).read_text().strip()
    yield directory
    if not (directory / KEY_FILE).exists():
        write_master_key_file(directory / KEY_FILE, original)
    assert not (directory / NEXT_KEY_FILE).exists(), "a test left a rotation unfinished"


def test_a_key_round_trips_and_is_removed(alice: Any) -> None:
    settings = settings_of(alice)
    key_id, secret = new_key_id(), new_secret()

    info = add_api_key("binance", key_id, secret, settings=settings)
    key = get_api_key("binance", settings=settings)

    assert (key.provider, key.label, key.key_id, key.secret) == (
        "binance",
        "default",
        key_id,
        secret,
    )
    assert info.hint == f"{key_id[:4]}…{key_id[-4:]}"
    assert get_api_key_by_id(info.id, settings=settings) == key
    [listed] = list_api_keys(settings)
    assert (listed.id, listed.provider, listed.label, listed.hint) == (
        info.id,
        "binance",
        "default",
        info.hint,
    )
    assert listed.last_used_at is not None
    remove_api_key("binance", settings=settings)
    assert list_api_keys(settings) == []
    with pytest.raises(ApiKeyNotFoundError):
        get_api_key("binance", settings=settings)
    actions = [(row[2], row[3]) for row in audit_rows(alice)]
    assert actions == [
        ("create", "ok"),
        ("read", "ok"),
        ("read", "ok"),
        ("delete", "ok"),
        ("read", "not_found"),
    ]


def test_labels_keep_keys_apart_and_adding_twice_needs_replace(alice: Any) -> None:
    settings = settings_of(alice)
    first = add_api_key("alpaca", new_key_id(), "first-secret", settings=settings)
    add_api_key("alpaca", new_key_id(), "paper-secret", label="paper", settings=settings)

    with pytest.raises(InvalidInputError, match="keys rm alpaca --label default"):
        add_api_key("alpaca", new_key_id(), "other-secret", settings=settings)
    assert get_api_key("alpaca", settings=settings).secret == "first-secret"
    replaced = add_api_key(
        "alpaca", "AKREPLACED0001", "new-secret", replace=True, settings=settings
    )

    assert replaced.id == first.id
    assert get_api_key("alpaca", settings=settings).secret == "new-secret"
    assert get_api_key("alpaca", label="paper", settings=settings).secret == "paper-secret"
    assert [info.label for info in list_api_keys(settings)] == ["default", "paper"]


def test_listing_never_shows_a_secret(alice: Any) -> None:
    settings = settings_of(alice)
    secret = new_secret()
    add_api_key("kraken", new_key_id(), secret, settings=settings)

    listed = list_api_keys(settings)

    assert secret not in repr(listed)
    assert secret not in str([info.to_json() for info in listed])
    with connect(alice.url) as connection:
        rows = connection.execute("SELECT * FROM quantdesk.api_key_listing").fetchall()
    assert len(rows) == 1
    assert secret not in repr(rows)


@pytest.mark.parametrize("length", [1, 5, 6, 11, 12, 17, 18, 23, 24, 64])
def test_the_stored_hint_follows_the_python_rule(alice: Any, length: int) -> None:
    key_id = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(length))

    info = add_api_key("hints", key_id, "s", settings=settings_of(alice))

    assert info.hint == key_id_hint(key_id)
    shown = len(info.hint) - 1
    assert shown <= length // 3


def test_bob_asking_for_alices_key_gets_the_missing_key_answer(alice: Any, bob: Any) -> None:
    alice_key = add_api_key("binance", new_key_id(), new_secret(), settings=settings_of(alice))
    bob_settings = settings_of(bob)
    unknown_id = uuid.uuid4()

    with pytest.raises(ApiKeyNotFoundError) as by_name:
        get_api_key("binance", settings=bob_settings)
    with pytest.raises(ApiKeyNotFoundError) as by_alices_id:
        get_api_key_by_id(alice_key.id, settings=bob_settings)
    with pytest.raises(ApiKeyNotFoundError) as by_unknown_id:
        get_api_key_by_id(unknown_id, settings=bob_settings)
    with pytest.raises(ApiKeyNotFoundError) as removal:
        remove_api_key_by_id(alice_key.id, settings=bob_settings)

    remove_api_key("binance", settings=settings_of(alice))
    with pytest.raises(ApiKeyNotFoundError) as alice_missing:
        get_api_key("binance", settings=settings_of(alice))
    assert str(by_name.value) == str(alice_missing.value)
    assert str(by_alices_id.value) == str(by_unknown_id.value).replace(
        str(unknown_id), str(alice_key.id)
    )
    assert str(removal.value) == str(by_alices_id.value)
    assert "\n" not in str(by_alices_id.value)
    assert audit_rows(bob) == [
        (bob.name, bob.name, "read", "not_found", "binance", "default", None),
        (bob.name, bob.name, "read", "not_found", None, None, alice_key.id),
        (bob.name, bob.name, "read", "not_found", None, None, unknown_id),
        (bob.name, bob.name, "delete", "not_found", None, None, alice_key.id),
    ]
    attempts = [row for row in audit_rows(alice) if row[1] == bob.name]
    assert attempts == [
        (alice.name, bob.name, "read", "denied", "binance", "default", alice_key.id),
        (alice.name, bob.name, "delete", "denied", "binance", "default", alice_key.id),
    ]


def test_an_admin_lists_every_key_but_decrypts_only_their_own(
    alice: Any, database_user: Callable[..., Any]
) -> None:
    admin = database_user("carol", admin=True)
    secret = new_secret()
    alice_key = add_api_key("binance", new_key_id(), secret, settings=settings_of(alice))

    with connect(admin.url) as connection:
        listed = connection.execute(
            "SELECT owner, provider FROM quantdesk.api_key_listing WHERE id = %s", (alice_key.id,)
        ).fetchall()
    with pytest.raises(ApiKeyNotFoundError):
        get_api_key_by_id(alice_key.id, settings=settings_of(admin))

    assert listed == [(alice.name, "binance")]
    assert list_api_keys(settings_of(admin)) == []
    assert (admin.name, "read", "denied") in [(row[1], row[2], row[3]) for row in audit_rows(alice)]


def test_bob_cannot_read_or_change_audit_rows(alice: Any, bob: Any) -> None:
    alice_key = add_api_key("binance", new_key_id(), new_secret(), settings=settings_of(alice))
    with pytest.raises(ApiKeyNotFoundError):
        get_api_key_by_id(alice_key.id, settings=settings_of(bob))

    with connect(bob.url) as connection:
        seen = connection.execute(
            "SELECT count(*) FROM quantdesk.api_key_audit WHERE owner = %s", (alice.name,)
        ).fetchone()
        assert seen == (0,)
        refused = [
            "UPDATE quantdesk.api_key_audit SET outcome = 'ok'",
            "DELETE FROM quantdesk.api_key_audit",
            "TRUNCATE quantdesk.api_key_audit",
            "INSERT INTO quantdesk.api_key_audit (actor, action, outcome) "
            "VALUES (current_user, 'read', 'ok')",
            f"INSERT INTO quantdesk.api_key_audit (owner, actor, action, outcome) "
            f"VALUES ('{alice.name}', current_user, 'read', 'ok')",
        ]
        for statement in refused:
            with pytest.raises(pg_errors.InsufficientPrivilege):
                connection.execute(statement)
    assert len(audit_rows(bob)) == 1
    assert len(audit_rows(alice)) == 2


def test_users_reach_neither_ciphertext_nor_the_master_key(alice: Any) -> None:
    add_api_key("binance", new_key_id(), new_secret(), settings=settings_of(alice))
    refused = [
        "SELECT key_id_ciphertext FROM quantdesk.api_keys",
        "SELECT secret_ciphertext FROM quantdesk.api_keys",
        "SELECT * FROM quantdesk.api_keys",
        "UPDATE quantdesk.api_keys SET label = 'x'",
        "DELETE FROM quantdesk.api_keys",
        "INSERT INTO quantdesk.api_keys (provider, key_id_hint, key_id_ciphertext, "
        "secret_ciphertext, master_key_fingerprint) VALUES ('p', 'h', '\\x00', '\\x00', 'f')",
        "SELECT * FROM quantdesk_vault.pads",
        "SELECT quantdesk_vault.master_key(false)",
        "SELECT * FROM quantdesk_vault.encryption_key()",
        "SELECT quantdesk_vault.key_with_fingerprint('0')",
        "SELECT quantdesk_vault.rotate_master()",
        "SELECT quantdesk_vault.audit(current_user, 'read', 'ok', 'p', 'l', NULL)",
        "SELECT pg_read_file('quantdesk_vault.key')",
        "SET ROLE quantdesk_vault",
    ]
    with connect(alice.url) as connection:
        for statement in refused:
            with pytest.raises(pg_errors.InsufficientPrivilege):
                connection.execute(statement)
        visible = connection.execute(
            "SELECT provider, key_id_hint FROM quantdesk.api_keys"
        ).fetchall()
    assert [provider for provider, _ in visible] == ["binance"]


def test_sql_injection_strings_are_stored_literally(alice: Any, bob: Any) -> None:
    settings = settings_of(alice)
    provider = "x'); DROP TABLE quantdesk.api_keys; --"
    label = '" OR 1=1; SELECT pg_sleep(0) --'
    key_id = "' OR ''='"
    secret = "'; DELETE FROM quantdesk.api_key_audit; --"

    add_api_key(provider, key_id, secret, label=label, settings=settings)
    key = get_api_key(provider, label=label, settings=settings)

    assert (key.provider, key.label, key.key_id, key.secret) == (provider, label, key_id, secret)
    assert [(info.provider, info.label) for info in list_api_keys(settings)] == [(provider, label)]
    with pytest.raises(ApiKeyNotFoundError):
        get_api_key(provider, label=label, settings=settings_of(bob))
    assert [row[2] for row in audit_rows(alice)] == ["create", "read"]


@pytest.mark.parametrize(
    ("provider", "label", "message"),
    [
        ("", "default", "the provider is empty"),
        ("x" * 101, "default", "at most 100"),
        ("binance", " paper", "starts or ends with blanks"),
        ("bin\nance", "default", "control characters"),
        ("binance", "", "the label is empty"),
    ],
)
def test_bad_names_get_one_line_errors(alice: Any, provider: str, label: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        add_api_key(provider, "AKID", "secret", label=label, settings=settings_of(alice))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("key_id", "secret", "message"),
    [
        ("AKID", "", "the secret is empty"),
        ("AKID", "hunter2-secret\n", "line break"),
        ("AKID", "hunter2\x00secret", "NUL"),
        ("AKID", "h" * 16385, "longer than 16384 bytes"),
        ("", "hunter2-secret", "the key id is empty"),
    ],
)
def test_bad_credentials_are_refused_without_quoting_them(
    alice: Any, key_id: str, secret: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        add_api_key("binance", key_id, secret, settings=settings_of(alice))
    assert "hunter2" not in str(caught.value)
    assert list_api_keys(settings_of(alice)) == []


def test_an_api_key_hides_its_secret_from_repr_pickle_and_logs(
    alice: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key_id, secret = new_key_id(), new_secret()
    settings = settings_of(alice)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    try:
        add_api_key("binance", key_id, secret, settings=settings)
        key = get_api_key("binance", settings=settings)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

    assert "quantdesk_vault.add_key" in caplog.text
    for text in (caplog.text, repr(key), str(key), f"{key}", repr([key])):
        assert secret not in text
        assert key_id not in text
    assert key_id_hint(key_id) in repr(key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)
    assert copy.deepcopy(key) is key
    assert key == ApiKey("binance", "default", key_id, secret)


def test_a_missing_master_key_file_is_named(alice: Any, data_directory: Path) -> None:
    settings = settings_of(alice)
    add_api_key("binance", new_key_id(), new_secret(), settings=settings)
    (data_directory / KEY_FILE).unlink()

    with pytest.raises(StoreError, match=r"quantdesk_vault\.key is missing") as caught:
        get_api_key("binance", settings=settings)

    assert "quantdesk db up" in str(caught.value)


def test_rotation_re_encrypts_every_key(
    alice: Any, bob: Any, postgres_server: Any, data_directory: Path
) -> None:
    stored = {user.name: (settings_of(user), new_key_id(), new_secret()) for user in (alice, bob)}
    for settings, key_id, secret in stored.values():
        add_api_key("binance", key_id, secret, settings=settings)
    old_key = (data_directory / KEY_FILE).read_text().strip()
    before = {name: stored_rows(postgres_server, name)["binance"] for name in stored}

    rotated = rotate_master_key(postgres_server.settings)

    new_key = (data_directory / KEY_FILE).read_text().strip()
    after = {name: stored_rows(postgres_server, name)["binance"] for name in stored}
    assert rotated >= 2
    assert new_key != old_key
    assert not (data_directory / NEXT_KEY_FILE).exists()
    for name in stored:
        assert before[name][2] == fingerprint(old_key)
        assert after[name][0] != before[name][0]
        assert after[name][1] != before[name][1]
        assert after[name][2] == fingerprint(new_key)
    for settings, key_id, secret in stored.values():
        key = get_api_key("binance", settings=settings)
        assert (key.key_id, key.secret) == (key_id, secret)
    for user in (alice, bob):
        assert ("quantdesk_manager", "rotate", "ok") in [
            (row[1], row[2], row[3]) for row in audit_rows(user)
        ]


def test_a_rotation_cut_short_before_the_rename_loses_nothing(
    alice: Any, postgres_server: Any, data_directory: Path
) -> None:
    settings = settings_of(alice)
    add_api_key("old", new_key_id(), "secret under the old key", settings=settings)
    next_key = write_master_key_file(data_directory / NEXT_KEY_FILE)
    try:
        with connect(postgres_server.admin_url) as connection:
            connection.execute("SELECT quantdesk_vault.rotate_master()")
    except psycopg.Error:
        (data_directory / NEXT_KEY_FILE).unlink()
        raise

    try:
        add_api_key("new", new_key_id(), "secret under the next key", settings=settings)
        assert get_api_key("old", settings=settings).secret == "secret under the old key"
    finally:
        (data_directory / NEXT_KEY_FILE).replace(data_directory / KEY_FILE)

    assert get_api_key("old", settings=settings).secret == "secret under the old key"
    assert get_api_key("new", settings=settings).secret == "secret under the next key"
    fingerprints = {row[2] for row in stored_rows(postgres_server, alice.name).values()}
    assert fingerprints == {fingerprint(next_key)}


def test_users_cannot_rotate_the_master_key(alice: Any) -> None:
    with connect(alice.url) as connection, pytest.raises(pg_errors.InsufficientPrivilege):
        connection.execute("SELECT quantdesk_vault.rotate_master()")


def test_rotating_an_external_servers_key_leaves_the_rename_to_its_operator(
    alice: Any, postgres_server: Any, data_directory: Path, tmp_path: Path
) -> None:
    settings = settings_of(alice)
    add_api_key("binance", new_key_id(), "kept secret", settings=settings)
    manager_url = postgres_server.admin_url.set(drivername="postgresql")
    environment = {
        "QUANTDESK_ADMIN_DATABASE_URL": manager_url.render_as_string(hide_password=False)
    }

    refused = run_quantdesk(
        "keys", "rotate-master", data_dir=tmp_path, extra_environment=environment
    )
    next_key = write_master_key_file(data_directory / NEXT_KEY_FILE)
    rotated = run_quantdesk(
        "keys", "rotate-master", "--json", data_dir=tmp_path, extra_environment=environment
    )
    if rotated.returncode == 0:
        (data_directory / NEXT_KEY_FILE).replace(data_directory / KEY_FILE)
    else:
        (data_directory / NEXT_KEY_FILE).unlink()

    assert refused.returncode == 1
    assert f"no {NEXT_KEY_FILE} in the server's data directory" in refused.stderr
    assert rotated.returncode == 0, rotated.stderr
    report = json.loads(rotated.stdout)
    assert report["rename_required"] is True
    assert report["rotated"] >= 1
    assert get_api_key("binance", settings=settings).secret == "kept secret"
    assert stored_rows(postgres_server, alice.name)["binance"][2] == fingerprint(next_key)


def test_bob_probing_alices_key_does_not_hold_her_up(alice: Any, bob: Any) -> None:
    settings = settings_of(alice)
    alice_key = add_api_key("binance", new_key_id(), "hers", settings=settings)

    with psycopg.connect(libpq_url(bob.url)) as probing:
        probing.execute("SELECT * FROM quantdesk_vault.read_key_by_id(%s)", (alice_key.id,))
        probing.execute("SELECT quantdesk_vault.delete_key_by_id(%s)", (alice_key.id,))
        with connect(alice.url) as waiting:
            waiting.execute("SET lock_timeout = '2s'")
            row = waiting.execute(
                "SELECT secret FROM quantdesk_vault.read_key('binance', 'default')"
            ).fetchone()
        probing.rollback()

    assert row == ("hers",)


USER_FUNCTIONS = {
    "quantdesk_vault.new_pad(integer)",
    "quantdesk_vault.add_key(text,text,bytea,bytea,boolean)",
    "quantdesk_vault.read_key(text,text)",
    "quantdesk_vault.read_key_by_id(uuid)",
    "quantdesk_vault.delete_key(text,text)",
    "quantdesk_vault.delete_key_by_id(uuid)",
}


def test_users_execute_only_the_six_vault_entry_points(alice: Any, postgres_server: Any) -> None:
    with connect(postgres_server.admin_url) as connection:
        functions = connection.execute(
            "SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig, "
            "pg_get_userbyid(p.proowner), has_function_privilege(%s, p.oid, 'EXECUTE'), "
            "has_function_privilege('quantdesk_manager', p.oid, 'EXECUTE') "
            "FROM pg_proc p WHERE p.pronamespace = 'quantdesk_vault'::regnamespace",
            (alice.name,),
        ).fetchall()

    executable_by_alice = {name for name, *_, alice_may, _ in functions if alice_may}
    executable_by_manager = {name for name, *_, manager_may in functions if manager_may}
    assert executable_by_alice == USER_FUNCTIONS
    assert "quantdesk_vault.rotate_master()" in executable_by_manager
    for name, definer, config, owner, _, _ in functions:
        assert owner == "quantdesk_vault", name
        assert config[0] == 'search_path=""', name
        assert definer == (name in USER_FUNCTIONS or name == "quantdesk_vault.rotate_master()")


def test_a_pad_serves_only_the_session_that_asked_for_it(alice: Any, bob: Any) -> None:
    plain = b"AKIDEXAMPLE" + b"secret"
    with connect(alice.url) as asking, connect(alice.url) as other, connect(bob.url) as bob_session:
        row = asking.execute("SELECT quantdesk_vault.new_pad(%s)", (len(plain),)).fetchone()
        assert row is not None
        masked = bytes(left ^ right for left, right in zip(plain, row[0], strict=True))
        arguments = ("binance", "default", masked[:11], masked[11:])
        for session in (other, bob_session):
            with pytest.raises(pg_errors.InvalidParameterValue, match="no matching pad"):
                session.execute("SELECT quantdesk_vault.add_key(%s, %s, %s, %s)", arguments)
        asking.execute("SELECT quantdesk_vault.add_key(%s, %s, %s, %s)", arguments)
        with pytest.raises(pg_errors.InvalidParameterValue, match="no matching pad"):
            asking.execute("SELECT quantdesk_vault.add_key(%s, %s, %s, %s)", arguments)

    key = get_api_key("binance", settings=settings_of(alice))
    assert (key.key_id, key.secret) == ("AKIDEXAMPLE", "secret")


def test_reading_a_key_by_id_logs_no_secret_at_debug(
    alice: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key_id, secret = new_key_id(), new_secret()
    settings = settings_of(alice)
    stored = add_api_key("binance", key_id, secret, settings=settings)
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("sqlalchemy", "sqlalchemy.engine")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        key = get_api_key_by_id(stored.id, settings=settings)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)

    assert (key.key_id, key.secret) == (key_id, secret)
    assert "BEGIN" in caplog.text  # the engine logger was on
    assert secret not in caplog.text
    assert key_id not in caplog.text


def test_a_refused_create_is_audited_as_denied(alice: Any) -> None:
    settings = settings_of(alice)
    first = add_api_key("kraken", new_key_id(), new_secret(), settings=settings)

    with pytest.raises(InvalidInputError, match="already exists"):
        add_api_key("kraken", new_key_id(), new_secret(), settings=settings)

    creates = [row for row in audit_rows(alice) if row[2] == "create"]
    assert [(row[3], row[4], row[5], row[6]) for row in creates] == [
        ("ok", "kraken", "default", first.id),
        ("denied", "kraken", "default", first.id),
    ]
    assert all(row[0] == row[1] == alice.name for row in creates)


def test_users_read_only_the_listing_columns_of_api_keys(alice: Any) -> None:
    add_api_key("bitstamp", new_key_id(), new_secret(), settings=settings_of(alice))
    with connect(alice.url) as connection:
        granted = connection.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'quantdesk.api_keys'::regclass "
            "AND attnum > 0 AND NOT attisdropped "
            "AND has_column_privilege('quantdesk.api_keys', attname, 'SELECT') ORDER BY attnum"
        ).fetchall()
        with pytest.raises(pg_errors.InsufficientPrivilege):
            connection.execute("SELECT master_key_fingerprint FROM quantdesk.api_keys")
    assert [row[0] for row in granted] == [
        "id",
        "owner",
        "provider",
        "label",
        "key_id_hint",
        "created_at",
        "last_used_at",
    ]
    assert [info.provider for info in list_api_keys(settings_of(alice))] == ["bitstamp"]


def rotations_at_once(settings: Settings, count: int) -> list[object]:
    """Start ``count`` master-key rotations together; each one's count, or its error."""
    start = threading.Barrier(count)
    outcomes: list[object] = []

    def rotate() -> None:
        start.wait()
        try:
            outcomes.append(rotate_master_key(settings))
        except Exception as error:  # the caller reports it
            outcomes.append(error)

    threads = [threading.Thread(target=rotate) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_rotations_both_finish_and_every_key_decrypts(
    alice: Any, postgres_server: Any, data_directory: Path
) -> None:
    settings = settings_of(alice)
    stored = {f"exchange{number}": (new_key_id(), new_secret()) for number in range(3)}
    for provider, (key_id, secret) in stored.items():
        add_api_key(provider, key_id, secret, settings=settings)

    for _ in range(3):
        outcomes = rotations_at_once(postgres_server.settings, 2)
        assert all(isinstance(outcome, int) for outcome in outcomes), outcomes
        assert not (data_directory / NEXT_KEY_FILE).exists()
        for provider, (key_id, secret) in stored.items():
            key = get_api_key(provider, settings=settings)
            assert (key.key_id, key.secret) == (key_id, secret)
    current = (data_directory / KEY_FILE).read_text().strip()
    fingerprints = {row[2] for row in stored_rows(postgres_server, alice.name).values()}
    assert fingerprints == {fingerprint(current)}
