"""Jobs on the cluster: submit work, follow it, take its result or cancel it.

A :class:`JobTracker` belongs to the process that submits (a user's kernel):
it hands tasks to a Dask client and follows them from one background thread.
With ``record=True`` every change of a job is a row update under the user's
row-level security (see :mod:`quantdesk.store.jobs`), written with the
submitter's own connection, one transaction per change: workers receive the
tasks' data and return values, never credentials. A completion commits with
the job's results (``write_results``) or not at all; when the database is
briefly gone it is retried, and a completion that landed before the
connection broke is recognised instead of repeated.

Admission (:mod:`quantdesk.compute.admission`) holds new work ``queued``, with
the reason as its message, while the user has too many jobs running or the
host is loaded; queued jobs start in the order they were submitted. The same
thread beats the heartbeat of every unfinished job, and cancels the work of a
job cancelled elsewhere (``quantdesk jobs cancel``).

A running job keeps at most ``max_tasks_in_flight`` tasks on the cluster
(by default the cluster's thread count) and submits the next as each
finishes, with a Dask priority that falls with the task's place in its job:
a user flooding the cluster holds at most that many tasks per running job,
and a job just started goes ahead of the later tasks of long ones. Results
are collected as they arrive (``on_task_result``, :meth:`Job.partial_results`)
and released from the cluster. Cancelling sets the job's stop event, which
tasks poll with :func:`~quantdesk.compute.stopping.stop_requested` to free
their workers early. When the scheduler goes away, running jobs fail with one
line naming it instead of waiting forever.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from quantdesk.compute.admission import (
    AdmissionLimits,
    HostLoad,
    measured_host_load,
    waiting_reason,
)
from quantdesk.compute.stopping import StoppableTask, stop_event, stop_event_name
from quantdesk.config import Settings
from quantdesk.errors import DatabaseUnavailableError, QuantdeskError
from quantdesk.store import jobs as store_jobs

__all__ = ["Job", "JobCancelledError", "JobFailedError", "JobTracker", "Task"]

Task = tuple[Callable[..., Any], tuple[Any, ...]]
"""One piece of a job: a function and its arguments, run on a worker."""


class JobFailedError(QuantdeskError):
    """The job failed; the message is its one-line error."""


class JobCancelledError(QuantdeskError):
    """The job was cancelled before it finished."""


@dataclass(eq=False)
class _JobState:
    job_id: uuid.UUID
    kind: str
    tasks: Sequence[Task]
    combine: Callable[[list[Any]], Any]
    write_results: Callable[[Connection, Any], None] | None
    task_count: int
    on_task_result: Callable[[int, Any], None] | None = None
    status: str = "queued"
    progress: float = 0.0
    message: str | None = None
    error: str | None = None
    in_flight: dict[int, Any] = field(default_factory=dict)
    next_index: int = 0
    in_flight_limit: int = 1
    results: dict[int, Any] = field(default_factory=dict)
    result: Any = None
    combined: bool = False
    finished: threading.Event = field(default_factory=threading.Event)


class Job:
    """A job submitted through a :class:`JobTracker`; its attributes read its latest state."""

    def __init__(self, tracker: JobTracker, state: _JobState) -> None:
        self._tracker = tracker
        self._state = state

    @property
    def id(self) -> uuid.UUID:
        """The job's id, as ``quantdesk jobs`` shows it."""
        return self._state.job_id

    @property
    def kind(self) -> str:
        """What the job does."""
        return self._state.kind

    @property
    def status(self) -> str:
        """``queued``, ``running``, ``completed``, ``failed`` or ``cancelled``."""
        status = self._state.status
        return "running" if status == "completing" else status

    @property
    def progress(self) -> float:
        """The share of its tasks finished, 0 to 1."""
        return self._state.progress

    @property
    def message(self) -> str | None:
        """What it waits for while queued."""
        return self._state.message

    @property
    def error(self) -> str | None:
        """One line saying why it failed."""
        return self._state.error

    def partial_results(self) -> list[tuple[int, Any]]:
        """The results of the tasks finished so far, as ``(index, value)`` in index order.

        Returns
        -------
        list of tuple
            One pair per finished task; complete once the job completed.
        """
        with self._tracker._lock:
            finished = dict(self._state.results)
        return sorted(finished.items(), key=lambda pair: pair[0])

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job and return what its tasks' results combine into.

        Parameters
        ----------
        timeout
            Seconds to wait at most; None waits as long as it takes.

        Returns
        -------
        Any
            The combined result.

        Raises
        ------
        TimeoutError
            If the job is unfinished after ``timeout`` seconds.
        JobFailedError
            If it failed, with its one-line error.
        JobCancelledError
            If it was cancelled.
        """
        if not self._state.finished.wait(timeout):
            raise TimeoutError(
                f"job {self.id} is still {self.status} after {timeout} s; "
                "call result() again to keep waiting"
            )
        if self._state.status == "failed":
            raise JobFailedError(f"job {self.id} failed: {self._state.error}")
        if self._state.status == "cancelled":
            raise JobCancelledError(f"job {self.id} was cancelled")
        return self._state.result

    def cancel(self) -> None:
        """Stop the job's work and free the workers; a finished job is left as it is."""
        self._tracker.cancel(self)

    def wait(self, timeout: float | None = None, *, progress_bar: bool = True) -> Job:
        """Wait until the job finishes, drawing a progress bar (notebook or terminal).

        Parameters
        ----------
        timeout
            Seconds to wait at most; None waits as long as it takes.
        progress_bar
            Draw a tqdm bar of the tasks finished.

        Returns
        -------
        Job
            This job, whatever its outcome.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=self._state.task_count, desc=f"{self.kind} {self.id}", unit="task")
        try:
            while not self._state.finished.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._state.finished.wait(0.2 if remaining is None else min(0.2, remaining))
                if bar is not None:
                    bar.n = round(self.progress * self._state.task_count)
                    bar.set_postfix_str(self.status)
                    bar.refresh()
        finally:
            if bar is not None:
                bar.close()
        return self

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.kind}, {self.status}, progress={self.progress:.0%})"


class JobTracker:
    """Submits jobs to one Dask client and follows them from one background thread.

    Parameters
    ----------
    client
        A ``distributed.Client`` connected to the cluster.
    settings
        The settings to reach the database with; read from the environment when None.
    record
        Keep every job as a row of the user's ``quantdesk.jobs``.
    limits
        When new work waits.
    host_load
        Measures the host's load; psutil's by default.
    tick
        Seconds between two looks at the work when nothing happens sooner (a
        new job or a finished task wakes the tracker at once).
    heartbeat_interval
        Seconds between two heartbeats (and looks for cancellations made elsewhere).
    max_tasks_in_flight
        At most this many of one job's tasks are on the cluster at once; None
        for the cluster's thread count when the job starts.
    """

    def __init__(
        self,
        client: Any,
        *,
        settings: Settings | None = None,
        record: bool = True,
        limits: AdmissionLimits | None = None,
        host_load: Callable[[], HostLoad] = measured_host_load,
        tick: float = 0.1,
        heartbeat_interval: float = 15.0,
        max_tasks_in_flight: int | None = None,
    ) -> None:
        if max_tasks_in_flight is not None and (
            isinstance(max_tasks_in_flight, bool)
            or not isinstance(max_tasks_in_flight, int)
            or max_tasks_in_flight < 1
        ):
            raise QuantdeskError(
                "max_tasks_in_flight must be a whole number of at least 1 or None, "
                f"not {max_tasks_in_flight!r}"
            )
        self._client = client
        self._settings = settings
        self._record = record
        self._limits = limits or AdmissionLimits()
        self._host_load = host_load
        self._tick = tick
        self._heartbeat_interval = heartbeat_interval
        self._max_tasks_in_flight = max_tasks_in_flight
        self._scheduler_address = str(getattr(client.scheduler, "address", None) or "unknown")
        self._stop_events: list[str] = []
        self._lock = threading.Lock()
        self._jobs: list[_JobState] = []
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._last_heartbeat = time.monotonic()
        self._thread = threading.Thread(target=self._follow, name="quantdesk-jobs", daemon=True)
        self._thread.start()

    def submit(
        self,
        kind: str,
        tasks: Sequence[Task],
        *,
        combine: Callable[[list[Any]], Any] = list,
        write_results: Callable[[Connection, Any], None] | None = None,
        parameters: Mapping[str, Any] | None = None,
        on_task_result: Callable[[int, Any], None] | None = None,
        job_id: uuid.UUID | None = None,
    ) -> Job:
        """Queue a job of ``tasks``; it starts as soon as admission lets it.

        Parameters
        ----------
        kind
            What the job does, e.g. ``"sweep"``.
        tasks
            ``(function, arguments)`` pairs run on the workers; the arguments
            carry the data, never credentials.
        combine
            Turns the tasks' results, in order, into the job's result, here.
        write_results
            Writes the combined result on the connection that completes the
            job, so both commit together.
        parameters
            What the job was asked to do, kept with its row.
        on_task_result
            Called in the tracker's thread with each task's index and result
            as it arrives, in the order they finish; if it raises, the job fails.
        job_id
            The job's id, when the caller needs it before submitting (e.g. in
            ``write_results``); a new one when None.

        Returns
        -------
        Job
            At once, queued.
        """
        if not tasks:
            raise QuantdeskError("a job needs at least one task")
        job_id = uuid.uuid4() if job_id is None else job_id
        if self._record:
            store_jobs.create_job(
                kind, parameters=parameters, job_id=job_id, settings=self._settings
            )
        state = _JobState(
            job_id=job_id,
            kind=kind,
            tasks=list(tasks),
            combine=combine,
            write_results=write_results,
            task_count=len(tasks),
            on_task_result=on_task_result,
        )
        with self._lock:
            self._jobs.append(state)
        self._wake_up()
        return Job(self, state)

    @property
    def client(self) -> Any:
        """The Dask client the jobs go through."""
        return self._client

    def share(self, value: Any) -> Any:
        """Send ``value`` to every worker once; tasks take the returned future in its place.

        Sent straight to the workers, it never sits in the scheduler's memory;
        behind a gateway's proxy only the scheduler can be reached, so it goes
        through the scheduler there.
        """
        direct = not self._client.scheduler.address.startswith("gateway://")
        return self._client.scatter(value, broadcast=True, hash=False, direct=direct)

    @property
    def records(self) -> bool:
        """Whether jobs are kept as rows of the user's ``quantdesk.jobs``."""
        return self._record

    def cancel(self, job: Job) -> None:
        """Cancel ``job``'s work; see :meth:`Job.cancel`."""
        state = job._state
        with self._lock:
            if state.finished.is_set():
                return
        self._stop_work(state)
        if self._record:
            with contextlib.suppress(QuantdeskError):
                store_jobs.cancel_job(state.job_id, settings=self._settings)
        self._finish(state, "cancelled")

    def close(self) -> None:
        """Stop following jobs; unfinished ones are cancelled."""
        self._stopped.set()
        self._wake_up()
        self._thread.join()
        for state in self._unfinished():
            self.cancel(Job(self, state))
        if self._client.status == "running":
            for name in self._stop_events:
                with contextlib.suppress(Exception):
                    stop_event(name, self._client).clear()

    def __enter__(self) -> JobTracker:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def _follow(self) -> None:
        # A finished task wakes the thread at once (see _wake_up); the tick
        # bounds how long admission, heartbeats and lost schedulers wait.
        while not self._stopped.is_set():
            self._wake.wait(self._tick)
            self._wake.clear()
            if self._stopped.is_set():
                return
            self._look()

    def _wake_up(self, _: object = None) -> None:
        self._wake.set()

    def _look(self) -> None:
        unfinished = self._unfinished()
        running = sum(state.status == "running" for state in unfinished)
        admitted = True
        for state in unfinished:
            if state.status == "queued" and admitted:
                admitted = self._admit(state, running)
                running += admitted
            elif state.status in ("running", "completing"):
                self._check(state)
        if time.monotonic() - self._last_heartbeat >= self._heartbeat_interval:
            self._last_heartbeat = time.monotonic()
            self._beat(self._unfinished())

    def _admit(self, state: _JobState, running: int) -> bool:
        reason = waiting_reason(self._limits, running, self._host_load())
        if reason is not None:
            if reason != state.message:
                state.message = reason
                self._write(state, message=reason)
            return False
        state.status = "running"
        state.message = None
        self._write(state, status="running", progress=0.0)
        state.in_flight_limit = self._in_flight_limit()
        self._refill(state)
        return True

    def _in_flight_limit(self) -> int:
        if self._max_tasks_in_flight is not None:
            return self._max_tasks_in_flight
        try:
            return max(1, int(sum(self._client.nthreads().values())))
        except Exception:
            return 1

    def _refill(self, state: _JobState) -> None:
        limit = state.in_flight_limit
        stoppable_name = stop_event_name(state.job_id)
        while len(state.in_flight) < limit and state.next_index < len(state.tasks):
            index = state.next_index
            function, arguments = state.tasks[index]
            try:
                task, dependencies = StoppableTask.of(function, stoppable_name, arguments)
                future = self._client.submit(task, *dependencies, pure=False, priority=-index)
            except Exception as problem:
                if self._client.status != "running":
                    self._fail(state, self._scheduler_lost())
                else:
                    self._fail(
                        state, f"its task {index} could not be submitted: {_one_line(problem)}"
                    )
                return
            with self._lock:
                stopped = state.next_index != index
                if not stopped:
                    state.in_flight[index] = future
                    state.next_index += 1
            if not stopped:
                future.add_done_callback(self._wake_up)
            if stopped:
                # The job was cancelled while this task was being submitted.
                with contextlib.suppress(Exception):
                    self._client.cancel([future])
                return

    def _scheduler_lost(self) -> str:
        return (
            f"the scheduler at {self._scheduler_address} stopped answering; start the "
            "cluster again ('quantdesk cluster up') and submit the job again"
        )

    def _check(self, state: _JobState) -> None:
        if state.finished.is_set():
            return
        if state.status == "running":
            if not self._collect(state):
                return
            total = state.task_count
            done = len(state.results)
            progress = done / total
            if progress != state.progress:
                state.progress = progress
                if done < total:
                    self._write(state, progress=progress)
            if done < total:
                self._refill(state)
                return
            try:
                state.result = state.combine([state.results[index] for index in range(total)])
            except Exception as problem:
                self._fail(state, _one_line(problem))
                return
            state.combined = True
            state.status = "completing"
        self._complete(state)

    def _collect(self, state: _JobState) -> bool:
        """Take the finished tasks' results; False when the job failed doing so."""
        for index, future in list(state.in_flight.items()):
            status = future.status
            if status == "error":
                self._fail(state, _one_line(future.exception()))
                return False
            if status == "cancelled":
                self._fail(state, self._scheduler_lost())
                return False
            if status != "finished":
                continue
            try:
                value = future.result()
            except Exception as problem:
                self._fail(state, _one_line(problem))
                return False
            with self._lock:
                state.results[index] = value
                state.in_flight.pop(index, None)
            future.release()
            if state.on_task_result is not None:
                try:
                    state.on_task_result(index, value)
                except Exception as problem:
                    self._fail(state, f"on_task_result raised {_one_line(problem)}")
                    return False
        if state.in_flight and self._client.status != "running":
            self._fail(state, self._scheduler_lost())
            return False
        return True

    def _complete(self, state: _JobState) -> None:
        if not self._record:
            self._finish(state, "completed")
            return
        write_results = state.write_results

        def write(connection: Connection) -> None:
            if write_results is not None:
                write_results(connection, state.result)

        try:
            store_jobs.complete_job(state.job_id, write, settings=self._settings)
        except DatabaseUnavailableError:
            # Tried again at the next look; a completion that landed is recognised then.
            with contextlib.suppress(QuantdeskError):
                if store_jobs.get_job(state.job_id, settings=self._settings).status == (
                    "completed"
                ):
                    self._finish(state, "completed")
            return
        except QuantdeskError as problem:
            self._fail(state, f"its results could not be saved: {_one_line(problem)}")
            return
        self._finish(state, "completed")

    def _fail(self, state: _JobState, error: str) -> None:
        if state.finished.is_set():
            return
        self._stop_work(state)
        state.error = error
        self._write(state, status="failed", error=error)
        self._finish(state, "failed")

    def _beat(self, unfinished: list[_JobState]) -> None:
        if not self._record or not unfinished:
            return
        ids = [state.job_id for state in unfinished]
        with contextlib.suppress(QuantdeskError):
            store_jobs.heartbeat_jobs(ids, settings=self._settings)
            statuses = store_jobs.job_statuses(ids, settings=self._settings)
            for state in unfinished:
                if statuses.get(state.job_id) == "cancelled":
                    self._stop_work(state)
                    self._finish(state, "cancelled")

    def _write(self, state: _JobState, **changes: Any) -> None:
        if self._record:
            with contextlib.suppress(QuantdeskError):
                store_jobs.update_job(state.job_id, settings=self._settings, **changes)

    def _finish(self, state: _JobState, status: str) -> None:
        if state.finished.is_set():
            return
        state.status = status
        if status == "completed":
            state.progress = 1.0
        # Let go of the tasks' futures and arguments (the scattered frame among
        # them), so the cluster frees their memory; the Job keeps the result.
        state.in_flight.clear()
        state.tasks = ()
        with self._lock:
            self._jobs = [kept for kept in self._jobs if kept is not state]
        state.finished.set()

    def _stop_work(self, state: _JobState) -> None:
        """Ask the job's running tasks to stop, and drop its futures."""
        with self._lock:
            futures = list(state.in_flight.values())
            state.in_flight.clear()
            state.next_index = len(state.tasks)
        if not futures or self._client.status != "running":
            return
        name = stop_event_name(state.job_id)
        with contextlib.suppress(Exception):
            stop_event(name, self._client).set()
            self._stop_events.append(name)
        with contextlib.suppress(Exception):
            self._client.cancel(futures)

    def _unfinished(self) -> list[_JobState]:
        with self._lock:
            return [state for state in self._jobs if not state.finished.is_set()]


def _one_line(problem: BaseException | None) -> str:
    text = "" if problem is None else str(problem).strip()
    first = text.splitlines()[0] if text else ""
    name = "error" if problem is None else type(problem).__name__
    return f"{name}: {first}" if first else name
