"""Cooperative stopping: a running task asks whether its job was cancelled.

Dask cannot interrupt a Python function that is running, so cancelling a
job only frees its workers once its tasks notice. A :class:`JobTracker
<quantdesk.compute.jobs.JobTracker>` runs every task inside
:class:`StoppableTask`, which names the job's cluster-wide
``distributed.Event``; the tracker sets that event when the job is
cancelled. A task that loops over units of work calls :func:`stop_requested`
between them and returns early when it is true.
Outside such a task :func:`stop_requested` is always false.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CHECK_INTERVAL", "StoppableTask", "stop_event", "stop_event_name", "stop_requested"]

CHECK_INTERVAL = 0.1
"""Seconds between two questions to the scheduler from one task; earlier calls reuse the answer."""

_current = threading.local()


def stop_event_name(job_id: uuid.UUID) -> str:
    """The name of the cluster-wide event that asks ``job_id``'s tasks to stop.

    Parameters
    ----------
    job_id
        The job.

    Returns
    -------
    str
        ``quantdesk-stop-<id>``.
    """
    return f"quantdesk-stop-{job_id}"


class StoppableTask:
    """A task's function, run so that :func:`stop_requested` answers for its job.

    The function and the arguments that are not futures travel as one opaque
    cloudpickle payload, opened on the worker: the scheduler unpickles every
    task it is sent, and would otherwise import the function's modules (numba,
    pandas, the strategies) into its own process for nothing. Futures stay
    visible to Dask, which passes their values to :meth:`__call__`.

    Parameters
    ----------
    function
        What the task runs.
    event_name
        The job's stop event (see :func:`stop_event_name`).
    arguments
        The function's arguments, with :class:`Dependency` markers where the
        values of the futures given to ``__call__`` go.
    """

    def __init__(
        self, function: Callable[..., Any], event_name: str, arguments: Sequence[Any] = ()
    ) -> None:
        import cloudpickle

        self.name = str(getattr(function, "__name__", function))
        self.event_name = event_name
        self._payload = cloudpickle.dumps((function, tuple(arguments)))
        self._opened: tuple[Callable[..., Any], tuple[Any, ...]] | None = None

    @classmethod
    def of(
        cls, function: Callable[..., Any], event_name: str, arguments: Sequence[Any]
    ) -> tuple[StoppableTask, list[Any]]:
        """The task for ``function(*arguments)`` and the futures to submit it with.

        Returns
        -------
        tuple
            ``(task, futures)``: call ``client.submit(task, *futures)``.
        """
        from distributed import Future

        futures: list[Any] = []
        template: list[Any] = []
        for argument in arguments:
            if isinstance(argument, Future):
                template.append(Dependency(len(futures)))
                futures.append(argument)
            else:
                template.append(argument)
        return cls(function, event_name, template), futures

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "event_name": self.event_name, "_payload": self._payload}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._opened = None

    def __call__(self, *dependencies: Any) -> Any:
        """Run the function, the futures' values in place, answering stop questions for the job."""
        if self._opened is None:
            import cloudpickle

            self._opened = cloudpickle.loads(self._payload)
        function, template = self._opened
        arguments = [
            dependencies[item.position] if isinstance(item, Dependency) else item
            for item in template
        ]
        outer = getattr(_current, "state", None)
        _current.state = [self.event_name, 0.0, False]
        try:
            return function(*arguments)
        finally:
            _current.state = outer

    def __repr__(self) -> str:
        return f"StoppableTask({self.name!r})"


@dataclass(frozen=True)
class Dependency:
    """Marks where the value of a :class:`StoppableTask`'s ``position``-th future goes."""

    position: int


def stop_event(name: str, client: Any = None) -> Any:
    """The cluster-wide ``distributed.Event`` called ``name``.

    Parameters
    ----------
    name
        Its name, from :func:`stop_event_name`.
    client
        The client to reach the scheduler through; the worker's own when None.

    Returns
    -------
    distributed.Event
        The event.
    """
    from distributed import Event

    return Event(name, client=client)  # type: ignore[no-untyped-call]


def stop_requested() -> bool:
    """Whether the job of the task running in this thread was cancelled.

    Call it between units of work; it asks the scheduler at most every
    :data:`CHECK_INTERVAL` seconds, so calling it often is cheap.

    Returns
    -------
    bool
        True once the job is cancelled; False outside a job's task.
    """
    state = getattr(_current, "state", None)
    if state is None:
        return False
    event_name, last_check, answer = state
    if answer:
        return True
    now = time.monotonic()
    if now - last_check < CHECK_INTERVAL:
        return False
    try:
        answer = bool(stop_event(event_name).is_set())
    except (OSError, ValueError, RuntimeError):
        answer = False
    state[1], state[2] = now, answer
    return answer
