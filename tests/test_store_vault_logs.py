"""With every statement logged, no secret and no master key reaches the server log."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL

from quantdesk.config import Settings
from quantdesk.errors import DatabaseUnavailableError, StoreError
from quantdesk.store.connection import dispose_engines
from quantdesk.store.vault import (
    KEY_FILE,
    add_api_key,
    get_api_key,
    get_api_key_by_id,
    remove_api_key,
    write_master_key_file,
)
from tests.test_store_vault import connect, server_data_directory

VAULT_CALLS = ("add_key", "read_key", "new_pad")
LOUDEST_LOGGING = {
    "log_statement": "'all'",
    "log_parameter_max_length": "-1",
    "log_parameter_max_length_on_error": "-1",
    "log_error_verbosity": "'verbose'",
    "log_min_error_statement": "'info'",
}


@contextmanager
def every_statement_logged(superuser_url: URL) -> Iterator[None]:
    """Log every statement with its full parameters, as loudly as the server can."""
    with connect(superuser_url) as connection:
        for name, value in LOUDEST_LOGGING.items():
            connection.execute(f"ALTER SYSTEM SET {name} = {value}")
        connection.execute("SELECT pg_reload_conf()")
        dispose_engines()
        try:
            deadline = time.monotonic() + 10
            while connection.execute("SHOW log_statement").fetchone() != ("all",):
                assert time.monotonic() < deadline, "the server did not reload its settings"
                time.sleep(0.05)
            yield
        finally:
            for name in LOUDEST_LOGGING:
                connection.execute(f"ALTER SYSTEM RESET {name}")
            connection.execute("SELECT pg_reload_conf()")
            dispose_engines()


@contextmanager
def sampled_activity(superuser_url: URL, user: str) -> Iterator[list[str]]:
    """Collect every query text ``pg_stat_activity`` shows for ``user`` while the block runs.

    The list only grows (appends are atomic), so the block may read it meanwhile.
    """
    seen: list[str] = []
    done = threading.Event()

    def sample() -> None:
        with connect(superuser_url) as connection:
            while not done.is_set():
                rows = connection.execute(
                    "SELECT query FROM pg_stat_activity WHERE usename = %s", (user,)
                ).fetchall()
                seen.extend(row[0] for row in rows if row[0] and row[0] not in seen)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join(timeout=10)


@pytest.fixture
def alice(database_user: Callable[..., Any]) -> Any:
    """A fresh non-admin user."""
    return database_user("alice")


@pytest.fixture
def data_directory(postgres_server: Any) -> Iterator[Path]:
    """The server's data directory; its master key file is put back after the test."""
    directory = server_data_directory(postgres_server)
    original = (directory / KEY_FILE).read_text().strip()
    yield directory
    write_master_key_file(directory / KEY_FILE, original)


def test_log_and_activity_never_hold_a_secret_or_the_master_key(
    alice: Any, postgres_server: Any, data_directory: Path
) -> None:
    settings = Settings.load(database_url=alice.url.render_as_string(hide_password=False))
    key_id, secret = f"AK{secrets.token_hex(11).upper()}", f"sk-{secrets.token_hex(20)}"
    master_key = (data_directory / KEY_FILE).read_text().strip()
    wrong_key = secrets.token_hex(32)
    log_path = Path(postgres_server.log_path)
    log_start = log_path.stat().st_size

    with (
        every_statement_logged(postgres_server.superuser_url),
        sampled_activity(postgres_server.superuser_url, alice.name) as activity,
    ):
        info = add_api_key("binance", key_id, secret, settings=settings)
        deadline = time.monotonic() + 20
        while not all(any(call in query for query in activity[:]) for call in VAULT_CALLS):
            assert time.monotonic() < deadline, "pg_stat_activity never showed every vault call"
            add_api_key("binance", key_id, secret, replace=True, settings=settings)
            assert get_api_key("binance", settings=settings).secret == secret
        assert get_api_key_by_id(info.id, settings=settings).secret == secret

        write_master_key_file(data_directory / KEY_FILE, wrong_key)
        with pytest.raises(StoreError, match="not the key this API key was encrypted with"):
            get_api_key("binance", settings=settings)
        with connect(postgres_server.superuser_url) as superuser:
            superuser.execute(
                "UPDATE quantdesk.api_keys SET master_key_fingerprint = %s WHERE id = %s",
                (hashlib.sha256(wrong_key.encode()).hexdigest(), info.id),
            )
        with pytest.raises(StoreError, match="its ciphertext is damaged") as damaged:
            get_api_key("binance", settings=settings)
        assert not isinstance(damaged.value, DatabaseUnavailableError)

        write_master_key_file(data_directory / KEY_FILE, master_key)
        with connect(postgres_server.superuser_url) as superuser:
            superuser.execute(
                "UPDATE quantdesk.api_keys SET master_key_fingerprint = %s WHERE id = %s",
                (hashlib.sha256(master_key.encode()).hexdigest(), info.id),
            )
        assert get_api_key("binance", settings=settings).secret == secret
        remove_api_key("binance", settings=settings)

    log = log_path.read_bytes()[log_start:].decode(errors="replace")
    assert "quantdesk_vault.add_key" in log
    assert "parameters: $1 = 'binance'" in log
    assert "its ciphertext is damaged" in log
    seen = "\n".join(activity)
    for revealing in (secret, key_id, master_key, wrong_key, secret.encode().hex()):
        assert revealing not in log
        assert revealing not in seen
