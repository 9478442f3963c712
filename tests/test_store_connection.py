"""Database errors in one line: only a lost or refused connection means "unavailable"."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from quantdesk.config import Settings
from quantdesk.errors import DatabaseUnavailableError, StoreError
from quantdesk.store.connection import translated_errors, user_engine


def update_with_lock_timeout(settings: Settings, job_id: object) -> None:
    """Update a job through the library's error translation, waiting at most 200 ms for a lock."""
    with translated_errors("updating the job"), user_engine(settings).begin() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
        connection.execute(
            text("UPDATE quantdesk.jobs SET status = 'running' WHERE id = :id"), {"id": job_id}
        )


def test_a_lock_timeout_is_a_store_error_to_retry_not_an_unavailable_database(
    database_user: Callable[..., Any],
) -> None:
    alice = database_user("alice")
    libpq = alice.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as setup:
        row = setup.execute(
            "INSERT INTO quantdesk.jobs (kind) VALUES ('probe') RETURNING id"
        ).fetchone()
    assert row is not None
    with psycopg.connect(libpq) as holder:
        holder.execute("SELECT 1 FROM quantdesk.jobs WHERE id = %s FOR UPDATE", (row[0],))
        with pytest.raises(StoreError) as caught:
            update_with_lock_timeout(alice.settings, row[0])
        holder.rollback()

    assert not isinstance(caught.value, DatabaseUnavailableError)
    message = str(caught.value)
    assert message.startswith("updating the job: ")
    assert "lock" in message
    assert message.endswith("; retry")
    assert "db status" not in message


def test_a_refused_connection_is_an_unavailable_database() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings.load(database_url=f"postgresql://nobody:secret@127.0.0.1:{port}/quantdesk")
    with (
        pytest.raises(DatabaseUnavailableError, match="db status"),
        translated_errors("listing the jobs"),
        user_engine(settings).connect(),
    ):
        pass
