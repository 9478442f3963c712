"""Resource-aware admission: whether a job may start now, or waits as ``queued`` and why.

The original platform's ``can_run_task``, made a pure decision over facts
measured elsewhere: how many of the user's jobs run, and how loaded the host
is. Work that may not start yet waits visibly, with the reason as its message,
instead of overloading the machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from quantdesk.errors import ConfigurationError

__all__ = ["AdmissionLimits", "HostLoad", "measured_host_load", "waiting_reason"]


@dataclass(frozen=True)
class AdmissionLimits:
    """When new work waits.

    Attributes
    ----------
    running_jobs_per_user
        At most this many of one user's jobs run at once; default 2.
    cpu_percent
        New work waits while the host's CPU use is above this; default 90.
    memory_percent
        New work waits while the host's memory use is above this; default 85.
    """

    running_jobs_per_user: int = 2
    cpu_percent: float = 90.0
    memory_percent: float = 85.0

    def __post_init__(self) -> None:
        if isinstance(self.running_jobs_per_user, bool) or not (
            isinstance(self.running_jobs_per_user, int) and self.running_jobs_per_user >= 1
        ):
            raise ConfigurationError(
                "running_jobs_per_user must be a whole number of at least 1, "
                f"not {self.running_jobs_per_user!r}"
            )
        for name in ("cpu_percent", "memory_percent"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value <= 100:
                raise ConfigurationError(f"{name} is a percentage in (0, 100], not {value!r}")


@dataclass(frozen=True)
class HostLoad:
    """The host's CPU and memory use, in percent."""

    cpu_percent: float
    memory_percent: float


def measured_host_load(interval: float | None = None) -> HostLoad:
    """The host's load now, from psutil.

    Parameters
    ----------
    interval
        Seconds to measure CPU use over; None compares with the previous call
        (the first call then reads 0).

    Returns
    -------
    HostLoad
        CPU and memory use in percent.
    """
    import psutil

    return HostLoad(
        cpu_percent=float(psutil.cpu_percent(interval=interval)),
        memory_percent=float(psutil.virtual_memory().percent),
    )


def waiting_reason(limits: AdmissionLimits, running_jobs: int, load: HostLoad) -> str | None:
    """Why new work must wait, or None when it may start.

    Parameters
    ----------
    limits
        The thresholds.
    running_jobs
        How many of the user's jobs are running.
    load
        The host's load.

    Returns
    -------
    str or None
        One line naming the limit that holds the work back.
    """
    if running_jobs >= limits.running_jobs_per_user:
        return (
            f"waiting: {running_jobs} of your jobs are running "
            f"(at most {limits.running_jobs_per_user} at once)"
        )
    if not math.isnan(load.cpu_percent) and load.cpu_percent > limits.cpu_percent:
        return f"waiting: host CPU at {load.cpu_percent:.0f} % (above {limits.cpu_percent:g} %)"
    if not math.isnan(load.memory_percent) and load.memory_percent > limits.memory_percent:
        return (
            f"waiting: host memory at {load.memory_percent:.0f} % "
            f"(above {limits.memory_percent:g} %)"
        )
    return None
