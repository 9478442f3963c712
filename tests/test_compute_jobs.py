"""Jobs on a real Dask cluster, followed by the submitting process and recorded in PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from distributed import Client, Event, LocalCluster
from sqlalchemy import Connection, text

from quantdesk.compute.admission import AdmissionLimits, HostLoad
from quantdesk.compute.jobs import JobCancelledError, JobFailedError, JobTracker
from quantdesk.store.jobs import cancel_job, get_job
from tests.test_store_isolation import connect

IDLE = HostLoad(cpu_percent=5.0, memory_percent=20.0)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


@pytest.fixture
def user(database_user: Callable[..., Any]) -> Any:
    return database_user("compute_jobs")


def waits_for(name: str) -> Callable[[], str]:
    """A task that blocks until the cluster-wide event ``name`` is set."""

    def blocked() -> str:
        Event(name).wait()
        return name

    return blocked


def until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.02)


def test_a_job_runs_its_tasks_and_combines_their_results(client: Client) -> None:
    with JobTracker(client, record=False, host_load=lambda: IDLE) as tracker:
        job = tracker.submit("squares", [(pow, (number, 2)) for number in range(6)], combine=sum)
        assert job.result(timeout=30) == sum(number**2 for number in range(6))
        assert job.status == "completed"
        assert job.progress == 1.0


def test_a_finished_job_lets_the_cluster_free_its_data(client: Client) -> None:
    with JobTracker(client, record=False, host_load=lambda: IDLE) as tracker:
        shared = client.scatter(b"x" * 100_000, broadcast=True, hash=False)
        key = shared.key
        job = tracker.submit("lengths", [(len, (shared,)) for _ in range(3)], combine=sum)
        del shared
        assert job.result(timeout=30) == 300_000
        # Neither the scattered argument nor any task's result stays on a worker.
        until(lambda: not any(client.has_what().values()))
        assert key not in client.who_has()


def test_a_recorded_job_completes_in_the_transaction_that_writes_its_results(
    client: Client, user: Any
) -> None:
    def write(connection: Connection, total: int) -> None:
        connection.execute(
            text("UPDATE quantdesk.profiles SET display_name = :name"), {"name": f"sum {total}"}
        )

    with JobTracker(client, settings=user.settings, host_load=lambda: IDLE) as tracker:
        job = tracker.submit(
            "squares",
            [(pow, (number, 2)) for number in range(4)],
            combine=sum,
            write_results=write,
            parameters={"numbers": 4},
        )
        assert job.result(timeout=30) == 14
    stored = get_job(job.id, settings=user.settings)
    assert (stored.status, stored.progress, stored.parameters) == ("completed", 1.0, {"numbers": 4})
    with connect(user.url) as session:
        assert session.execute("SELECT display_name FROM quantdesk.profiles").fetchone() == (
            "sum 14",
        )


def test_a_failing_task_fails_the_job_with_one_line(client: Client, user: Any) -> None:
    with JobTracker(client, settings=user.settings, host_load=lambda: IDLE) as tracker:
        job = tracker.submit("parse", [(int, ("12",)), (int, ("not a number",))])
        with pytest.raises(JobFailedError, match="ValueError: invalid literal") as raised:
            job.result(timeout=30)
    assert "\n" not in str(raised.value)
    stored = get_job(job.id, settings=user.settings)
    assert stored.status == "failed"
    assert stored.error is not None
    assert stored.error.startswith("ValueError: invalid literal")


def test_cancel_stops_the_job_and_frees_the_cluster_for_the_next(client: Client, user: Any) -> None:
    gate = f"gate-{uuid.uuid4()}"
    with JobTracker(client, settings=user.settings, host_load=lambda: IDLE) as tracker:
        blocked = tracker.submit("blocked", [(waits_for(gate), ())])
        until(lambda: blocked.status == "running")
        blocked.cancel()
        with pytest.raises(JobCancelledError):
            blocked.result(timeout=5)
        Event(gate, client=client).set()
        after = tracker.submit("squares", [(pow, (3, 2))], combine=sum)
        assert after.result(timeout=30) == 9
    assert get_job(blocked.id, settings=user.settings).status == "cancelled"


def test_a_job_cancelled_elsewhere_stops_here(client: Client, user: Any) -> None:
    gate = f"gate-{uuid.uuid4()}"
    with JobTracker(
        client, settings=user.settings, host_load=lambda: IDLE, heartbeat_interval=0.05
    ) as tracker:
        blocked = tracker.submit("blocked", [(waits_for(gate), ())])
        until(lambda: blocked.status == "running")
        cancel_job(blocked.id, settings=user.settings)
        with pytest.raises(JobCancelledError):
            blocked.result(timeout=10)
        Event(gate, client=client).set()


def test_work_waits_visibly_while_the_user_has_enough_running(client: Client, user: Any) -> None:
    gate = f"gate-{uuid.uuid4()}"
    limits = AdmissionLimits(running_jobs_per_user=1)
    with JobTracker(
        client, settings=user.settings, limits=limits, host_load=lambda: IDLE
    ) as tracker:
        first = tracker.submit("blocked", [(waits_for(gate), ())])
        second = tracker.submit("squares", [(pow, (2, 2))], combine=sum)
        until(lambda: first.status == "running" and second.message is not None)
        assert second.status == "queued"
        assert second.message == "waiting: 1 of your jobs are running (at most 1 at once)"
        stored = get_job(second.id, settings=user.settings)
        assert (stored.status, stored.message) == ("queued", second.message)
        Event(gate, client=client).set()
        assert first.result(timeout=30) == [gate]
        assert second.result(timeout=30) == 4


def test_work_waits_while_the_host_is_loaded(client: Client) -> None:
    load = {"now": HostLoad(cpu_percent=97.0, memory_percent=20.0)}
    with JobTracker(client, record=False, host_load=lambda: load["now"]) as tracker:
        job = tracker.submit("squares", [(pow, (5, 2))], combine=sum)
        until(lambda: job.message is not None)
        assert job.status == "queued"
        assert job.message == "waiting: host CPU at 97 % (above 90 %)"
        load["now"] = IDLE
        assert job.result(timeout=30) == 25


def test_a_job_needs_tasks(client: Client) -> None:
    with (
        JobTracker(client, record=False, host_load=lambda: IDLE) as tracker,
        pytest.raises(Exception, match="at least one task"),
    ):
        tracker.submit("nothing", [])


def test_admission_limits_are_checked() -> None:
    with pytest.raises(Exception, match="at least 1"):
        AdmissionLimits(running_jobs_per_user=0)
    with pytest.raises(Exception, match=r"percentage in \(0, 100\]"):
        AdmissionLimits(cpu_percent=150)
