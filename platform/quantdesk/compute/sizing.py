"""How big a local Dask cluster is, from the host's physical cores and RAM.

The rules, each overridable through the settings:

- one worker per physical core (``cluster_workers``), one thread each, so a
  CPU-bound backtest never shares a core with another or waits on the GIL;
- the workers share the RAM less a reserve left to the notebook, the
  database and the system: ``max(1 GiB, 10 % of RAM)``
  (``cluster_memory_reserve_bytes``), split evenly;
- Dask's memory thresholds, as fractions of each worker's limit: spill
  managed data to disk at 60 % (target), spill by process memory at 70 %,
  pause new tasks at 80 %, restart the worker at 95 % (terminate).

The facts come in as arguments, so the rules are tested with any numbers;
:func:`host_facts` reads this machine's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import psutil

from quantdesk.config import Settings
from quantdesk.errors import ConfigurationError

GIB = 1024**3
MINIMUM_RESERVE_BYTES = GIB
RESERVE_FRACTION = 0.10
MINIMUM_WORKER_MEMORY_BYTES = 256 * 1024**2
"""Below this a worker cannot hold a modest frame; sizing refuses to go lower."""
TARGET_FRACTION = 0.60
SPILL_FRACTION = 0.70
PAUSE_FRACTION = 0.80
TERMINATE_FRACTION = 0.95


@dataclass(frozen=True)
class HostFacts:
    """What sizing needs to know about a machine.

    Attributes
    ----------
    physical_cores
        Cores, not hyper-threads.
    total_memory_bytes
        Installed RAM.
    """

    physical_cores: int
    total_memory_bytes: int


@dataclass(frozen=True)
class ClusterSize:
    """A local cluster's shape: workers, threads and memory per worker, memory thresholds.

    Attributes
    ----------
    workers
        Worker processes.
    threads_per_worker
        Threads in each worker.
    memory_limit_bytes
        Each worker's memory limit.
    reserve_bytes
        RAM left to the rest of the machine.
    target_fraction, spill_fraction, pause_fraction, terminate_fraction
        Dask's memory thresholds, as fractions of ``memory_limit_bytes``.
    """

    workers: int
    threads_per_worker: int
    memory_limit_bytes: int
    reserve_bytes: int
    target_fraction: float = TARGET_FRACTION
    spill_fraction: float = SPILL_FRACTION
    pause_fraction: float = PAUSE_FRACTION
    terminate_fraction: float = TERMINATE_FRACTION

    def __post_init__(self) -> None:
        if self.workers < 1 or self.threads_per_worker < 1:
            raise ConfigurationError(
                f"a cluster needs at least one worker with one thread, not {self.workers} "
                f"worker(s) with {self.threads_per_worker} thread(s)"
            )
        fractions = (
            self.target_fraction,
            self.spill_fraction,
            self.pause_fraction,
            self.terminate_fraction,
        )
        target, spill, pause, terminate = fractions
        if not 0 < target < spill < pause < terminate <= 1:
            raise ConfigurationError(
                "the memory thresholds must rise strictly within (0, 1]: target < spill < "
                f"pause < terminate <= 1, not {fractions}"
            )

    def dask_memory_config(self) -> dict[str, float]:
        """Dask's configuration keys for the memory thresholds.

        Returns
        -------
        dict
            ``distributed.worker.memory.{target,spill,pause,terminate}`` to fractions.
        """
        prefix = "distributed.worker.memory."
        return {
            f"{prefix}target": self.target_fraction,
            f"{prefix}spill": self.spill_fraction,
            f"{prefix}pause": self.pause_fraction,
            f"{prefix}terminate": self.terminate_fraction,
        }

    def to_json(self) -> dict[str, Any]:
        """The size as a JSON-ready dict, every field by name."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ClusterSize:
        """The size :meth:`to_json` wrote.

        Parameters
        ----------
        values
            A dict with every field.

        Returns
        -------
        ClusterSize
            The same size.
        """
        return cls(**values)


def host_facts() -> HostFacts:
    """This machine's physical cores and RAM, from psutil.

    Returns
    -------
    HostFacts
        The facts; one core where psutil cannot tell physical ones.
    """
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count(logical=True) or 1
    return HostFacts(physical_cores=cores, total_memory_bytes=psutil.virtual_memory().total)


def default_reserve_bytes(total_memory_bytes: int) -> int:
    """The RAM a local cluster leaves to the rest of the machine: ``max(1 GiB, 10 %)``.

    Parameters
    ----------
    total_memory_bytes
        Installed RAM.

    Returns
    -------
    int
        Bytes to reserve.
    """
    return max(MINIMUM_RESERVE_BYTES, int(total_memory_bytes * RESERVE_FRACTION))


def cluster_size(facts: HostFacts, settings: Settings) -> ClusterSize:
    """Size a local cluster for ``facts`` by the module's rules and the settings' overrides.

    Parameters
    ----------
    facts
        The host's physical cores and RAM.
    settings
        ``cluster_workers`` and ``cluster_memory_reserve_bytes`` override the rules.

    Returns
    -------
    ClusterSize
        The shape to start.

    Raises
    ------
    ConfigurationError
        If the reserve leaves each worker less than 256 MiB.
    """
    workers = settings.cluster_workers or max(1, facts.physical_cores)
    reserve = (
        settings.cluster_memory_reserve_bytes
        if settings.cluster_memory_reserve_bytes is not None
        else default_reserve_bytes(facts.total_memory_bytes)
    )
    per_worker = (facts.total_memory_bytes - reserve) // workers
    if per_worker < MINIMUM_WORKER_MEMORY_BYTES:
        raise ConfigurationError(
            f"{facts.total_memory_bytes / GIB:.1f} GiB of RAM less a {reserve / GIB:.1f} GiB "
            f"reserve leaves {workers} worker(s) under 256 MiB each; lower "
            "QUANTDESK_CLUSTER_MEMORY_RESERVE_BYTES or QUANTDESK_CLUSTER_WORKERS"
        )
    return ClusterSize(
        workers=workers,
        threads_per_worker=1,
        memory_limit_bytes=per_worker,
        reserve_bytes=reserve,
    )
