"""Live job status against a real PostgreSQL: watchers see their own jobs, re-read, and only those.

The attacks are the plain SQL a hostile user types: listening on the channel,
reading another's rows, and sending forged or garbage notifications.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from quantdesk import watch_jobs as exported_watch_jobs
from quantdesk.api.jobs import watch_jobs as api_watch_jobs
from quantdesk.errors import InvalidInputError
from quantdesk.store.job_events import watch_jobs
from quantdesk.store.jobs import NOTIFY_CHANNEL, JobInfo, create_job, update_job


@pytest.fixture
def alice(database_user: Callable[..., Any]) -> Any:
    return database_user("events_alice")


@pytest.fixture
def bob(database_user: Callable[..., Any]) -> Any:
    return database_user("events_bob")


class Watcher:
    """``watch_jobs`` run in a thread, collecting what it yields until stopped."""

    def __init__(self, settings: Any, poll_interval: float = 0.1) -> None:
        self.seen: list[JobInfo] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(settings, poll_interval))
        self._thread.start()

    def _run(self, settings: Any, poll_interval: float) -> None:
        try:
            for job in watch_jobs(stop=self.stop, poll_interval=poll_interval, settings=settings):
                self.seen.append(job)
        except BaseException as error:
            self.errors.append(error)

    def until(self, condition: Callable[[list[JobInfo]], bool], seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while not condition(self.seen):
            assert not self.errors, self.errors
            if time.monotonic() > deadline:
                raise AssertionError(f"the watcher did not see it in time; saw {self.seen}")
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()
        assert not self.errors, self.errors


def libpq(user: Any) -> str:
    return str(user.url.set(drivername="postgresql").render_as_string(hide_password=False))


def listening(watcher: Watcher, user: Any, superuser_url: Any) -> None:
    """Wait until the watcher's session is LISTENing, so no notification is sent before."""
    deadline = time.monotonic() + 20
    with psycopg.connect(libpq_of(superuser_url), autocommit=True) as session:
        while time.monotonic() < deadline:
            row = session.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                "AND query LIKE 'LISTEN%%'",
                (user.name,),
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("the watcher never listened")


def libpq_of(url: Any) -> str:
    return str(url.set(drivername="postgresql").render_as_string(hide_password=False))


def test_the_watcher_yields_each_change_as_stored(alice: Any, postgres_server: Any) -> None:
    watcher = Watcher(alice.settings)
    try:
        listening(watcher, alice, postgres_server.superuser_url)
        job = create_job("sweep", settings=alice.settings)
        update_job(job.id, status="running", progress=0.5, settings=alice.settings)
        watcher.until(lambda seen: any(info.status == "running" for info in seen))
        statuses = [(info.id, info.status) for info in watcher.seen]
        assert statuses[0] == (job.id, "queued")
        running = next(info for info in watcher.seen if info.status == "running")
        assert (running.progress, running.started_at is not None) == (0.5, True)
    finally:
        watcher.close()


def test_a_watch_ends_at_its_timeout_without_busy_waiting(alice: Any) -> None:
    started = time.monotonic()
    cpu_started = time.process_time()
    assert list(watch_jobs(timeout=1.0, poll_interval=0.2, settings=alice.settings)) == []
    assert 0.9 <= time.monotonic() - started < 5
    assert time.process_time() - cpu_started < 0.5, "the watcher spun instead of sleeping"


def test_the_listener_of_another_user_gets_ids_only_and_no_rows(alice: Any, bob: Any) -> None:
    with psycopg.connect(libpq(bob), autocommit=True) as session:
        session.execute(f"LISTEN {NOTIFY_CHANNEL}")
        job = create_job("sweep", parameters={"grid": "secret"}, settings=alice.settings)
        update_job(job.id, status="running", message="private words", settings=alice.settings)
        payloads = [notice.payload for notice in session.notifies(timeout=10, stop_after=2)]
        assert payloads == [str(job.id)] * 2
        for attack in (
            "SELECT * FROM quantdesk.jobs WHERE id = %(id)s",
            "SELECT * FROM quantdesk.jobs WHERE id::text = %(text)s",
            "SELECT count(*) FILTER (WHERE id = %(id)s) FROM quantdesk.jobs HAVING count(*) > 0",
        ):
            assert session.execute(attack, {"id": job.id, "text": str(job.id)}).fetchall() == []


def test_forged_and_garbage_notifications_yield_nothing_false(
    alice: Any, bob: Any, postgres_server: Any
) -> None:
    alices = create_job("sweep", settings=alice.settings)
    bobs = create_job("sweep", settings=bob.settings)
    watcher = Watcher(alice.settings)
    try:
        listening(watcher, alice, postgres_server.superuser_url)
        with psycopg.connect(libpq(bob), autocommit=True) as session:
            for payload in (
                str(bobs.id),
                str(uuid.uuid4()),
                "garbage",
                "'; DROP TABLE quantdesk.jobs; --",
                "x" * 7000,
                str(alices.id).upper(),
                "",
            ):
                session.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, payload))
            session.execute(f"NOTIFY {NOTIFY_CHANNEL}, '{alices.id}'")
        # Bob's forgery of alice's id only makes her watcher read her own row again.
        watcher.until(lambda seen: len(seen) >= 1)
        update_job(alices.id, status="running", settings=alice.settings)
        watcher.until(lambda seen: any(info.status == "running" for info in seen))
        assert [(info.id, info.status) for info in watcher.seen] == [
            (alices.id, "queued"),
            (alices.id, "running"),
        ]
    finally:
        watcher.close()


@pytest.mark.slow
def test_the_watcher_reconnects_after_a_restart(alice: Any, postgres_server: Any) -> None:
    job = create_job("sweep", settings=alice.settings)
    watcher = Watcher(alice.settings)
    try:
        listening(watcher, alice, postgres_server.superuser_url)
        postgres_server.stop()
        try:
            time.sleep(0.5)
        finally:
            postgres_server.start()
        update_job(job.id, status="running", settings=alice.settings)
        watcher.until(lambda seen: any(info.status == "running" for info in seen), seconds=30)
        assert {info.id for info in watcher.seen} == {job.id}
        update_job(job.id, status="cancelled", settings=alice.settings)
        watcher.until(lambda seen: any(info.status == "cancelled" for info in seen))
    finally:
        watcher.close()


def test_a_watch_needs_an_end_and_sane_intervals(alice: Any) -> None:
    assert exported_watch_jobs is api_watch_jobs is watch_jobs
    with pytest.raises(InvalidInputError, match="timeout= or stop="):
        next(iter(watch_jobs(settings=alice.settings)))
    with pytest.raises(InvalidInputError, match="positive number of seconds"):
        next(iter(watch_jobs(timeout=0, settings=alice.settings)))
    with pytest.raises(InvalidInputError, match="positive number of seconds"):
        next(iter(watch_jobs(timeout=1, poll_interval=-1, settings=alice.settings)))
