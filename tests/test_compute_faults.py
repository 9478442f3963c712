"""Faults while jobs run, all real: a worker killed, PostgreSQL restarted, a job
cancelled mid-task, one user flooding the cluster, the scheduler gone.

One two-worker process cluster serves the module; tasks are gated with
``distributed.Event`` or poll ``stop_requested`` rather than sleeping long.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import psycopg
import pytest
from distributed import Client, Event, LocalCluster
from sqlalchemy import Connection, text

import quantdesk
from quantdesk.compute.admission import HostLoad
from quantdesk.compute.jobs import JobFailedError, JobTracker
from quantdesk.compute.stopping import stop_requested
from quantdesk.engine import BacktestConfig
from quantdesk.research.space import parse_parameter_space
from quantdesk.research.sweep import SweepRow, evaluate_chunk, plan_chunks, run_sweep, sweep_result
from quantdesk.strategies import Signals
from quantdesk.strategies.sma_cross import SmaCross
from tests.frames import sample_bars
from tests.test_store_isolation import connect

IDLE = HostLoad(cpu_percent=5.0, memory_percent=20.0)
CONFIG = BacktestConfig(lot_size=1e-8, commission=0.001)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


@pytest.fixture(autouse=True)
def _both_workers(client: Client) -> None:
    client.wait_for_workers(2, timeout=60)


def until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.02)


def executing(client: Client) -> int:
    """How many tasks the workers' threads are running, as the workers themselves count."""
    counts = client.run(lambda dask_worker: dask_worker.state.executing_count)
    return sum(counts.values())


def polling_sleeper(seconds: float) -> float:
    """Work in small units for ``seconds``, stopping early when its job is cancelled."""
    started = time.monotonic()
    while time.monotonic() - started < seconds and not stop_requested():
        time.sleep(0.01)
    return time.monotonic() - started


def gated(name: str, value: int) -> int:
    """Wait until the cluster-wide event ``name`` is set, then return ``value``."""
    Event(name).wait()
    return value


def test_a_sweep_survives_a_worker_killed_mid_job(client: Client) -> None:
    frame = sample_bars("BTC/USDT", "1h", "2024-01-01", "2025-01-01")
    space = parse_parameter_space("sma_cross", ["fast=4:24:2", "slow=20:60:10"])
    chunks = list(plan_chunks(space, 3))
    with JobTracker(client, record=False, host_load=lambda: IDLE, max_tasks_in_flight=2) as tracker:
        job = tracker.submit(
            "sweep",
            [(evaluate_chunk, (frame, "sma_cross", chunk, CONFIG)) for chunk in chunks],
            combine=lambda parts: [row for part in parts for row in part],
        )
        busy: list[str] = []
        deadline = time.monotonic() + 60
        while not busy and job.progress < 0.5 and time.monotonic() < deadline:
            busy = [address for address, keys in client.processing().items() if keys]
        assert busy, "no worker was busy in the first half of the sweep"
        killed = client.run(os.getpid, workers=busy[:1])[busy[0]]
        os.kill(killed, signal.SIGKILL)
        rows: list[SweepRow] = job.result(timeout=180)
    assert killed not in client.run(os.getpid).values()
    assert len(rows) == space.size
    expected = run_sweep(frame, "sma_cross", space, CONFIG)
    got = sweep_result(rows, space.names, expected.objective)
    pd.testing.assert_frame_equal(got.rows, expected.rows)
    assert got.best == expected.best


def test_partial_results_arrive_in_index_order_as_tasks_finish(client: Client) -> None:
    gate = f"gate-{uuid.uuid4()}"
    seen: list[tuple[int, int]] = []
    with JobTracker(client, record=False, host_load=lambda: IDLE) as tracker:
        job = tracker.submit(
            "mixed",
            [(pow, (2, 3)), (gated, (gate, 7)), (pow, (3, 2))],
            combine=sum,
            on_task_result=lambda index, value: seen.append((index, value)),
        )
        until(lambda: len(job.partial_results()) == 2)
        assert job.partial_results() == [(0, 8), (2, 9)]
        assert job.progress == pytest.approx(2 / 3)
        Event(gate, client=client).set()
        assert job.result(timeout=30) == 8 + 7 + 9
    assert sorted(seen) == [(0, 8), (1, 7), (2, 9)]
    assert seen[-1] == (1, 7)


def test_cancel_stops_running_tasks_and_frees_the_workers(client: Client) -> None:
    with JobTracker(client, record=False, host_load=lambda: IDLE) as tracker:
        long = tracker.submit("long", [(polling_sleeper, (60.0,)) for _ in range(4)])
        until(lambda: executing(client) == 2)
        cancelled_at = time.monotonic()
        long.cancel()
        until(lambda: executing(client) == 0, seconds=3)
        freed_after = time.monotonic() - cancelled_at
        after = tracker.submit("after", [(pow, (4, 2))], combine=sum)
        assert after.result(timeout=5) == 16
    assert long.status == "cancelled"
    assert freed_after < 3


def test_each_running_job_keeps_a_bounded_number_of_tasks_on_the_cluster(client: Client) -> None:
    gate = f"gate-{uuid.uuid4()}"
    with JobTracker(client, record=False, host_load=lambda: IDLE, max_tasks_in_flight=3) as tracker:
        job = tracker.submit("gated", [(gated, (gate, number)) for number in range(12)])
        until(lambda: job.status == "running")
        time.sleep(0.3)
        assert len(client.who_has()) == 3
        Event(gate, client=client).set()
        assert job.result(timeout=30) == list(range(12))
    with pytest.raises(Exception, match="at least 1"):
        JobTracker(client, record=False, max_tasks_in_flight=0)


def test_one_user_flooding_does_not_starve_another(client: Client) -> None:
    """A: 10 jobs x 20 tasks of 0.25 s; B: one job of 2 such tasks, submitted once A is busy.

    Each of A's two running jobs keeps at most 2 (the cluster's threads) tasks
    on the cluster, and B's first tasks have the priority of a job's first
    tasks, so B waits for at most the tasks already on the cluster: 4 of A's
    tasks over 2 threads is 0.5 s, then B's own 0.25 s, under 1.5 s with the
    ticks. Submitting every task at once would put 40 of A's tasks ahead of
    B's: at least 5 s. The bound, 3 s, sits between.
    """
    with (
        JobTracker(client, record=False, host_load=lambda: IDLE, tick=0.02) as flooder,
        JobTracker(client, record=False, host_load=lambda: IDLE, tick=0.02) as other,
    ):
        flood = [
            flooder.submit(f"flood {number}", [(polling_sleeper, (0.25,)) for _ in range(20)])
            for number in range(10)
        ]
        until(lambda: executing(client) == 2)
        submitted = time.monotonic()
        single = other.submit("single", [(polling_sleeper, (0.25,)) for _ in range(2)])
        single.result(timeout=30)
        took = time.monotonic() - submitted
        queued = sum(job.status == "queued" for job in flood)
        unfinished = sum(job.status in ("queued", "running") for job in flood)
    assert took < 3.0, f"the other user's job took {took:.2f} s"
    assert queued >= 7, queued
    assert unfinished >= 9, unfinished


def write_total(connection: Connection, total: int) -> None:
    """The job's results: its total as the profile's name, after a pause to restart into."""
    connection.execute(text("SELECT pg_sleep(0.5)"))
    connection.execute(
        text("UPDATE quantdesk.profiles SET display_name = :name"), {"name": f"sum {total}"}
    )


def wait_for_the_results_write(postgres_server: Any, user_name: str) -> None:
    libpq = postgres_server.superuser_url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    with psycopg.connect(libpq, autocommit=True) as session:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = session.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s "
                "AND state = 'active' AND query LIKE 'SELECT pg_sleep%%'",
                (user_name,),
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.005)
    raise AssertionError("the completion never began writing its results")


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["while running", "while completing"])
def test_a_postgres_restart_leaves_completion_and_results_together(
    client: Client, database_user: Callable[..., Any], postgres_server: Any, moment: str
) -> None:
    user = database_user("faults_restart")
    gate = f"gate-{uuid.uuid4()}"
    with JobTracker(
        client, settings=user.settings, host_load=lambda: IDLE, heartbeat_interval=0.05
    ) as tracker:
        job = tracker.submit(
            "gated",
            [(gated, (gate, number)) for number in range(4)],
            combine=sum,
            write_results=write_total,
        )
        until(lambda: job.status == "running")
        if moment == "while running":
            postgres_server.restart(mode="fast")
            Event(gate, client=client).set()
        else:
            Event(gate, client=client).set()
            wait_for_the_results_write(postgres_server, user.name)
            postgres_server.restart(mode="immediate")
        outcome: Any
        try:
            outcome = job.result(timeout=60)
        except JobFailedError as failure:
            outcome = failure
    with connect(user.url) as session:
        ((status, error),) = session.execute(
            "SELECT status, error FROM quantdesk.jobs WHERE id = %(id)s", {"id": job.id}
        ).fetchall()
        ((name,),) = session.execute("SELECT display_name FROM quantdesk.profiles").fetchall()
    if status == "completed":
        assert outcome == 0 + 1 + 2 + 3
        assert name == "sum 6"
    else:
        assert isinstance(outcome, JobFailedError), (status, outcome)
        assert status == "failed"
        assert error is not None
        assert "\n" not in error
        assert name != "sum 6"
    assert status == "completed", f"the job did not recover from the restart: {error}"


def test_a_lost_scheduler_fails_the_running_job_in_one_line() -> None:
    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        dashboard_address=None,
    )
    address = cluster.scheduler_address
    with Client(cluster, timeout=2) as client:
        tracker = JobTracker(client, record=False, host_load=lambda: IDLE)
        try:
            # Tasks that outlast the wait: the job can end only by noticing the scheduler is gone.
            job = tracker.submit("long", [(polling_sleeper, (60.0,)) for _ in range(3)])
            until(lambda: job.status == "running")
            closing = threading.Thread(target=cluster.close)
            closing.start()
            with pytest.raises(JobFailedError) as raised:
                job.result(timeout=20)
            closing.join(timeout=30)
        finally:
            tracker.close()
    message = str(raised.value)
    assert "\n" not in message
    assert f"the scheduler at {address} stopped answering" in message
    assert job.error is not None
    assert job.error.startswith("the scheduler at")


class SlowCross(SmaCross):
    """sma_cross that takes a while per combination, as a heavy strategy would."""

    name = "slow_cross_for_cancelling"

    def _signals(self, frame: pd.DataFrame) -> Signals:
        time.sleep(0.2)
        return super()._signals(frame)


def test_cancelling_a_sweep_stops_its_chunks_between_combinations(client: Client) -> None:
    frame = sample_bars("BTC/USDT", "1h", "2024-01-01", "2024-02-01")
    grid = {"fast": "2:21:1", "slow": "30:34:1"}  # 100 combinations, 20 s on one worker
    job = quantdesk.sweep(
        SlowCross, frame, grid, chunk_size=100, client=client, record=False, lot_size=1e-8
    )
    until(lambda: executing(client) == 1)
    cancelled_at = time.monotonic()
    job.cancel()
    until(lambda: executing(client) == 0, seconds=5)
    freed_after = time.monotonic() - cancelled_at
    assert job.status == "cancelled"
    assert freed_after < 5
