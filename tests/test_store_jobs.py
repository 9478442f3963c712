"""Jobs against a real PostgreSQL: the lifecycle the database enforces, isolation, lost jobs.

Every attack is the plain SQL a hostile user would type in their own session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, text

from quantdesk.errors import InvalidInputError, JobNotFoundError, StoreError
from quantdesk.store.jobs import (
    LOST_ERROR,
    NOTIFY_CHANNEL,
    cancel_job,
    complete_job,
    create_job,
    get_job,
    heartbeat_jobs,
    list_jobs,
    update_job,
)
from tests.test_store_isolation import connect


@pytest.fixture
def alice(database_user: Callable[..., Any]) -> Any:
    return database_user("jobs_alice")


@pytest.fixture
def bob(database_user: Callable[..., Any]) -> Any:
    return database_user("jobs_bob")


def test_a_job_goes_from_queued_through_running_to_completed(alice: Any) -> None:
    job = create_job("sweep", parameters={"fast": [5, 10]}, settings=alice.settings)
    assert job.status == "queued"
    assert job.progress is None
    assert job.parameters == {"fast": [5, 10]}

    running = update_job(job.id, status="running", progress=0.25, settings=alice.settings)
    assert running.status == "running"
    assert running.started_at is not None
    assert running.progress == 0.25

    done = complete_job(job.id, message="175 combinations", settings=alice.settings)
    assert done.status == "completed"
    assert done.progress == 1.0
    assert done.finished_at is not None
    assert done.finished
    assert get_job(job.id, settings=alice.settings) == done


def test_results_and_completion_commit_together_or_not_at_all(alice: Any) -> None:
    job = create_job("backtest", settings=alice.settings)
    update_job(job.id, status="running", settings=alice.settings)
    with connect(alice.url) as session:
        before = session.execute("SELECT display_name FROM quantdesk.profiles").fetchall()
    assert len(before) == 1

    def half_written(connection: Connection) -> None:
        connection.execute(text("UPDATE quantdesk.profiles SET display_name = 'half'"))
        raise RuntimeError("the worker's result could not be decoded")

    with pytest.raises(RuntimeError):
        complete_job(job.id, half_written, settings=alice.settings)
    assert get_job(job.id, settings=alice.settings).status == "running"
    with connect(alice.url) as session:
        assert session.execute("SELECT display_name FROM quantdesk.profiles").fetchall() == before

    def written(connection: Connection) -> None:
        connection.execute(text("UPDATE quantdesk.profiles SET display_name = 'all'"))

    assert complete_job(job.id, written, settings=alice.settings).status == "completed"
    with connect(alice.url) as session:
        assert session.execute("SELECT display_name FROM quantdesk.profiles").fetchall() == [
            ("all",)
        ]


def test_a_retried_submission_adds_no_second_row(alice: Any) -> None:
    job_id = uuid.uuid4()
    first = create_job("sweep", job_id=job_id, settings=alice.settings)
    again = create_job("sweep", job_id=job_id, settings=alice.settings)
    assert again == first
    assert [job.id for job in list_jobs(settings=alice.settings)] == [job_id]


@pytest.mark.parametrize(
    "attack",
    [
        "UPDATE quantdesk.jobs SET status = 'running' WHERE id = %(id)s",
        "UPDATE quantdesk.jobs SET status = 'queued' WHERE id = %(id)s",
        "UPDATE quantdesk.jobs SET kind = 'other' WHERE id = %(id)s",
    ],
)
def test_a_finished_job_never_changes_state_even_in_plain_sql(alice: Any, attack: str) -> None:
    job = create_job("sweep", settings=alice.settings)
    update_job(job.id, status="running", settings=alice.settings)
    complete_job(job.id, settings=alice.settings)
    with connect(alice.url) as session, pytest.raises(psycopg.errors.CheckViolation):
        session.execute(attack, {"id": job.id})
    assert get_job(job.id, settings=alice.settings).status == "completed"


@pytest.mark.parametrize(
    "attack",
    [
        "INSERT INTO quantdesk.jobs (kind, status) VALUES ('sweep', 'completed')",
        "INSERT INTO quantdesk.jobs (kind, status) VALUES ('sweep', 'succeeded')",
        "INSERT INTO quantdesk.jobs (kind, error) VALUES ('sweep', E'one\\ntwo')",
    ],
)
def test_a_job_cannot_be_born_finished_or_with_a_multiline_error(alice: Any, attack: str) -> None:
    with connect(alice.url) as session, pytest.raises(psycopg.errors.CheckViolation):
        session.execute(attack)


def test_the_library_refuses_moves_the_lifecycle_forbids(alice: Any) -> None:
    job = create_job("sweep", settings=alice.settings)
    with pytest.raises(StoreError, match="queued; it cannot become completed"):
        update_job(job.id, status="completed", settings=alice.settings)
    with pytest.raises(InvalidInputError, match="not one of queued, running"):
        update_job(job.id, status="done", settings=alice.settings)
    with pytest.raises(InvalidInputError, match=r"fraction in \[0, 1\]"):
        update_job(job.id, progress=1.5, settings=alice.settings)


def test_errors_are_kept_to_one_line(alice: Any) -> None:
    job = create_job("sweep", settings=alice.settings)
    failed = update_job(
        job.id,
        status="failed",
        error="worker died\nTraceback (most recent call last):",
        settings=alice.settings,
    )
    assert failed.error == "worker died"


def test_another_users_job_is_out_of_reach(alice: Any, bob: Any) -> None:
    job = create_job("sweep", settings=alice.settings)
    with pytest.raises(JobNotFoundError, match="no job with id"):
        get_job(job.id, settings=bob.settings)
    with pytest.raises(JobNotFoundError):
        cancel_job(job.id, settings=bob.settings)
    assert list_jobs(settings=bob.settings) == []
    with connect(bob.url) as session:
        changed = session.execute(
            "UPDATE quantdesk.jobs SET status = 'cancelled' WHERE id = %(id)s", {"id": job.id}
        )
        assert changed.rowcount == 0
        assert session.execute("SELECT count(*) FROM quantdesk.jobs").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute(
                "INSERT INTO quantdesk.jobs (id, owner, kind) VALUES (%(id)s, %(owner)s, 'x')",
                {"id": uuid.uuid4(), "owner": alice.name},
            )
    assert get_job(job.id, settings=alice.settings).status == "queued"


def test_a_job_whose_submitter_went_silent_is_lost_and_stays_lost(alice: Any) -> None:
    job = create_job("sweep", settings=alice.settings)
    update_job(job.id, status="running", settings=alice.settings)
    with connect(alice.url) as session:
        session.execute(
            "UPDATE quantdesk.jobs SET heartbeat_at = now() - interval '10 minutes' "
            "WHERE id = %(id)s",
            {"id": job.id},
        )
    assert get_job(job.id, lost_after=timedelta(hours=1), settings=alice.settings).status == (
        "running"
    )
    (lost,) = list_jobs(lost_after=timedelta(minutes=2), settings=alice.settings)
    assert lost.status == "lost"
    assert lost.error == LOST_ERROR
    assert heartbeat_jobs([job.id], settings=alice.settings) == 0
    with pytest.raises(StoreError, match="lost; it cannot become completed"):
        complete_job(job.id, settings=alice.settings)


def test_a_beating_job_is_not_lost(alice: Any) -> None:
    job = create_job("sweep", settings=alice.settings)
    with connect(alice.url) as session:
        session.execute(
            "UPDATE quantdesk.jobs SET heartbeat_at = now() - interval '10 minutes' "
            "WHERE id = %(id)s",
            {"id": job.id},
        )
    assert heartbeat_jobs([job.id], settings=alice.settings) == 1
    assert get_job(job.id, settings=alice.settings).status == "queued"


def test_cancel_stops_an_unfinished_job_and_refuses_a_finished_one(alice: Any) -> None:
    job = create_job("sweep", settings=alice.settings)
    assert cancel_job(job.id, settings=alice.settings).status == "cancelled"
    with pytest.raises(InvalidInputError, match="cancelled already"):
        cancel_job(job.id, settings=alice.settings)


def test_notifications_carry_the_job_id_and_nothing_else(alice: Any, bob: Any) -> None:
    with psycopg.connect(
        str(bob.url.set(drivername="postgresql").render_as_string(hide_password=False)),
        autocommit=True,
    ) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        job = create_job("sweep", parameters={"secret_grid": [1, 2]}, settings=alice.settings)
        update_job(job.id, status="running", message="private words", settings=alice.settings)
        payloads = [
            (notice.channel, notice.payload)
            for notice in listener.notifies(timeout=10, stop_after=2)
        ]
    assert payloads == [(NOTIFY_CHANNEL, str(job.id))] * 2


def test_bad_input_is_refused_in_one_line(alice: Any) -> None:
    with pytest.raises(InvalidInputError, match="not a job id"):
        get_job("not-an-id", settings=alice.settings)
    with pytest.raises(InvalidInputError, match="short name"):
        create_job("", settings=alice.settings)
    with pytest.raises(InvalidInputError, match="JSON values"):
        create_job("sweep", parameters={"when": object()}, settings=alice.settings)
    with pytest.raises(InvalidInputError, match="positive timedelta"):
        list_jobs(lost_after=timedelta(0), settings=alice.settings)


def test_a_jobs_run_is_saved_in_the_transaction_that_completes_it(alice: Any) -> None:
    from quantdesk.store.runs import list_runs, write_run
    from tests.saved_runs import small_result

    result = small_result()
    job = create_job("backtest", settings=alice.settings)
    update_job(job.id, status="running", settings=alice.settings)

    def broken(connection: Connection) -> None:
        write_run(connection, result, name="half", job_id=job.id)
        raise RuntimeError("interrupted after the run's rows")

    with pytest.raises(RuntimeError):
        complete_job(job.id, broken, settings=alice.settings)
    assert list_runs(settings=alice.settings) == []
    assert get_job(job.id, settings=alice.settings).status == "running"

    complete_job(
        job.id,
        lambda connection: write_run(connection, result, name="whole", job_id=job.id),
        settings=alice.settings,
    )
    (saved,) = list_runs(settings=alice.settings)
    assert saved.name == "whole"
    with connect(alice.url) as session:
        assert session.execute("SELECT job_id FROM quantdesk.backtests").fetchone() == (job.id,)


def test_a_run_cannot_claim_another_users_job(alice: Any, bob: Any) -> None:
    job = create_job("backtest", settings=alice.settings)
    with connect(bob.url) as session, pytest.raises(psycopg.errors.ForeignKeyViolation):
        session.execute(
            "INSERT INTO quantdesk.backtests (parameters, config, stats, engine_version, "
            "bar_count, trade_count, job_id) VALUES ('{}', '{}', '{}', '2', 0, 0, %(job)s)",
            {"job": job.id},
        )
