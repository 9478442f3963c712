"""``quantdesk jobs list|show|cancel`` as a person would type them, against a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import quantdesk
from quantdesk.store.jobs import complete_job, create_job, update_job
from tests.test_store_runs_cli import Runner, runner_for


@pytest.fixture
def user(database_user: Callable[..., Any]) -> Any:
    return database_user("cli_jobs")


@pytest.fixture
def quantdesk_as_user(user: Any, tmp_path: Path) -> Runner:
    return runner_for(user, tmp_path)


def test_jobs_are_listed_shown_and_cancelled(user: Any, quantdesk_as_user: Runner) -> None:
    empty = quantdesk_as_user("jobs", "list")
    assert empty.returncode == 0, empty.stderr
    assert "no jobs" in empty.stdout

    finished = create_job("backtest", settings=user.settings)
    update_job(finished.id, status="running", settings=user.settings)
    complete_job(finished.id, settings=user.settings)
    waiting = create_job("sweep", parameters={"fast": [5, 10]}, settings=user.settings)
    update_job(waiting.id, message="waiting: host CPU above 85 %", settings=user.settings)

    listed = quantdesk_as_user("jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(row["id"], row["status"]) for row in rows] == [
        (str(waiting.id), "queued"),
        (str(finished.id), "completed"),
    ]
    table = quantdesk_as_user("jobs", "list")
    assert "waiting: host CPU above 85 %" in table.stdout
    assert "100%" in table.stdout

    shown = quantdesk_as_user("jobs", "show", str(waiting.id), "--json")
    assert json.loads(shown.stdout)["parameters"] == {"fast": [5, 10]}
    text = quantdesk_as_user("jobs", "show", str(waiting.id))
    assert f"job {waiting.id} (sweep): queued" in text.stdout

    cancelled = quantdesk_as_user("jobs", "cancel", str(waiting.id), "--json")
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    assert quantdesk.get_job(waiting.id, settings=user.settings).status == "cancelled"


def test_refusals_are_one_line(user: Any, quantdesk_as_user: Runner) -> None:
    job = create_job("backtest", settings=user.settings)
    update_job(job.id, status="running", settings=user.settings)
    complete_job(job.id, settings=user.settings)
    for words, expected in [
        (("jobs", "cancel", str(job.id)), "completed already"),
        (("jobs", "show", "nonsense"), "not a job id"),
        (("jobs", "show", "00000000-0000-4000-8000-000000000000"), "no job with id"),
    ]:
        outcome = quantdesk_as_user(*words)
        assert outcome.returncode != 0
        assert expected in outcome.stderr
        assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr
