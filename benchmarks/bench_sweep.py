"""Benchmark parameter sweeps: quantdesk.sweep on a local Dask cluster against vectorbt.

Run ``.venv/bin/python benchmarks/bench_sweep.py`` (a few minutes; ``--quick``
for a smaller run). On the engine benchmark's bars (one-minute
``sample:BTC/USDT``) and its 175 ``sma_cross`` combinations (fast 5..50 step
5, slow 10..200 step 10, fast below slow; reversing, ``short=True``) it times

- vectorbt's chunked sweep (every distinct SMA once, 25 columns per
  ``from_signals`` call), the peer;
- ``run_sweep`` in this process, the floor a cluster adds to;
- the public ``quantdesk.sweep`` on a local Dask cluster of 1 and 2 worker
  processes of one thread each (``record=False``: no database row), with the
  scaling efficiency ``t1 / (2 * t2)``;
- how the 2-worker sweep grows with the grid (25, 100, 175, 400
  combinations) and with the bars (100k, 300k, 1M; vectorbt too).

Times are medians of runs with nothing else watching. Peak memory is then
taken in one more run, sampled every 10 ms by a thread (reading every
process's memory map costs CPU, so sampled runs are not timed): the
proportional set size of the cluster's processes (its scheduler host and
workers), which the target is about, and of the whole tree with this process,
which also holds the peer's imports and every frame. Every figure is measured
in the one run and printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
from distributed import Client

import quantdesk
from bench_engine import RULES, VECTORBT_CHUNK_COLUMNS, sample_bars
from engine_ours import engine_config
from engine_peers import sweep_combinations, vectorbt_frame, vectorbt_sweep
from quantdesk.compute.admission import AdmissionLimits
from quantdesk.compute.cluster import LocalClusterProcess, local_cluster
from quantdesk.compute.jobs import JobTracker
from quantdesk.compute.research_jobs import Search, chunk_size_for, submit_sweep
from quantdesk.compute.sizing import cluster_size, host_facts
from quantdesk.config import Settings
from quantdesk.research import parse_parameter_space, run_sweep
from quantdesk.research.objective import as_objective
from timing import median_seconds, print_markdown_table

BARS = 1_000_000
SWEEP_PARAMETERS = {"fast": "5:50:5", "slow": "10:200:10", "short": [True]}
"""The engine benchmark's grid: 175 combinations with fast below slow."""
GRIDS = {
    25: {"fast": "5:25:5", "slow": "60:100:10", "short": [True]},
    100: {"fast": "5:50:5", "slow": "60:150:10", "short": [True]},
    175: SWEEP_PARAMETERS,
    400: {"fast": "5:100:5", "slow": "110:300:10", "short": [True]},
}
"""Grids whose every combination is valid (fast below slow), by size."""
BAR_COUNTS = (100_000, 300_000, 1_000_000)
TARGET_RATIO = 0.1
MEMORY_LIMIT_BYTES = 1 << 30
SAMPLE_SECONDS = 0.01


class PeakMemory:
    """The peak memory of this process and all its descendants, sampled by a thread.

    The proportional set size (PSS) of each process, summed: a page shared by
    ``n`` processes (the libraries every worker maps) counts ``1/n`` in each,
    so the sum is the memory the tree really holds. The sum of resident sizes
    counts shared pages once per process; it is in :attr:`peak_resident`.
    """

    def __init__(self) -> None:
        self._root = psutil.Process()
        self._peak = 0
        self._peak_resident = 0
        self._peak_children = 0
        self._running = False
        self._thread: threading.Thread | None = None

    def _tree_bytes(self) -> tuple[int, int, int]:
        proportional = resident = children = 0
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                memory = process.memory_full_info()
            except psutil.Error:
                continue
            proportional += memory.pss
            resident += memory.rss
            if process.pid != self._root.pid:
                children += memory.pss
        return proportional, resident, children

    def _update(self) -> None:
        proportional, resident, children = self._tree_bytes()
        self._peak = max(self._peak, proportional)
        self._peak_resident = max(self._peak_resident, resident)
        self._peak_children = max(self._peak_children, children)

    def _sample(self) -> None:
        while self._running:
            self._update()
            time.sleep(SAMPLE_SECONDS)

    @contextmanager
    def measuring(self) -> Iterator[PeakMemory]:
        """Sample while the block runs; :attr:`peak` is then its peak."""
        self._peak = self._peak_resident = self._peak_children = 0
        self._update()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._running = False
            self._thread.join()
            self._update()

    @property
    def peak(self) -> int:
        """The peak summed PSS, bytes."""
        return self._peak

    @property
    def peak_resident(self) -> int:
        """The peak summed resident size, bytes."""
        return self._peak_resident

    @property
    def peak_children(self) -> int:
        """The peak summed PSS of the descendants alone (a cluster's processes), bytes."""
        return self._peak_children


@dataclass(frozen=True)
class Measured:
    """A timed case: median seconds, then the peak memory of one more (sampled) run."""

    seconds: float
    peak_bytes: int
    peak_resident_bytes: int
    peak_cluster_bytes: int


def measured(
    action: Callable[[], object], repeats: int, memory: PeakMemory, *, warm_up: bool = True
) -> Measured:
    """Time ``action`` (median of ``repeats``, after an untimed warm-up), then sample a run."""
    if warm_up:
        action()
    seconds = median_seconds(action, repeats)
    with memory.measuring():
        action()
    return Measured(seconds, memory.peak, memory.peak_resident, memory.peak_children)


def valid_combinations(parameters: dict[str, object]) -> int:
    """How many of the grid's ``sma_cross`` combinations run (fast below slow)."""
    grid = parse_parameter_space("sma_cross", parameters).grid()
    return sum(combination["fast"] < combination["slow"] for combination in grid)


def public_sweep(
    client: Client, frame: pd.DataFrame, parameters: dict[str, object]
) -> Callable[[], object]:
    """One ``quantdesk.sweep`` job through the cluster, to its result."""

    def run() -> object:
        job = quantdesk.sweep(
            "sma_cross",
            frame,
            parameters,
            config=engine_config(RULES),
            client=client,
            record=False,
        )
        return job.result(timeout=600)

    return run


def unadmitted_sweep(
    client: Client, frame: pd.DataFrame, parameters: dict[str, object]
) -> Callable[[], object]:
    """The same job as :func:`public_sweep`, through a tracker whose admission never waits.

    ``quantdesk.sweep`` holds new work while the host's CPU is above 90 %,
    which a busy shared machine often is; this isolates the cluster's cost.
    """
    space = parse_parameter_space("sma_cross", parameters)
    combinations = list(space.grid())
    tracker = JobTracker(
        client, record=False, limits=AdmissionLimits(cpu_percent=100.0, memory_percent=100.0)
    )
    search = Search(
        strategy="sma_cross",
        combinations=combinations,
        parameter_names=space.names,
        config=engine_config(RULES),
        objective=as_objective(None),
        constraints=(),
        chunk_size=chunk_size_for(len(combinations), sum(client.nthreads().values())),
    )
    return lambda: submit_sweep(tracker, frame, search).result(timeout=600)


def vectorbt_run(frame: pd.DataFrame) -> Callable[[], object]:
    """vectorbt's chunked sweep of the 175 combinations on ``frame``."""
    bars = vectorbt_frame(frame)
    combinations = sweep_combinations(range(5, 51, 5), range(10, 201, 10))
    return lambda: vectorbt_sweep(bars, combinations, RULES, VECTORBT_CHUNK_COLUMNS)


def cluster_client(workers: int) -> tuple[LocalClusterProcess, Client]:
    """The local cluster quantdesk starts on demand (one thread per worker), of ``workers``."""
    settings = Settings.load(cluster_workers=workers)
    cluster = local_cluster(cluster_size(host_facts(), settings))
    return cluster, cluster.client()


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.3f}x"


def gigabytes(size: int) -> str:
    return f"{size / 1e9:.2f} GB"


def memory_note(result: Measured) -> str:
    cluster = (
        f"cluster {gigabytes(result.peak_cluster_bytes)} PSS; " if result.peak_cluster_bytes else ""
    )
    return (
        f"{cluster}whole tree {gigabytes(result.peak_bytes)} PSS "
        f"({gigabytes(result.peak_resident_bytes)} RSS)"
    )


def main(arguments: Sequence[str] | None = None) -> None:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 bars, fewer repeats")
    options = parser.parse_args(arguments)
    bars = 100_000 if options.quick else BARS
    repeats = 1 if options.quick else 3
    memory = PeakMemory()
    counts = [count for count in BAR_COUNTS if count <= bars]
    frames = {count: sample_bars(count, Path(tempfile.mkdtemp())) for count in counts}
    frame = frames[bars]
    combinations = valid_combinations(SWEEP_PARAMETERS)
    space = parse_parameter_space("sma_cross", SWEEP_PARAMETERS)
    config = engine_config(RULES)

    in_process = measured(
        lambda: run_sweep(frame, "sma_cross", space, config, chunk_size=space.size),
        repeats,
        memory,
    )
    public: dict[int, Measured] = {}
    unadmitted: dict[int, Measured] = {}
    by_grid: dict[int, Measured] = {}
    by_bars: dict[int, Measured] = {}
    for workers in (1, 2):
        cluster, client = cluster_client(workers)
        try:
            public[workers] = measured(
                public_sweep(client, frame, SWEEP_PARAMETERS), repeats, memory
            )
            unadmitted[workers] = measured(
                unadmitted_sweep(client, frame, SWEEP_PARAMETERS), repeats, memory
            )
            if workers == 2:
                for size, parameters in GRIDS.items():
                    by_grid[size] = measured(public_sweep(client, frame, parameters), 1, memory)
                for count, data in frames.items():
                    by_bars[count] = measured(
                        public_sweep(client, data, SWEEP_PARAMETERS), 1, memory
                    )
        finally:
            client.close()
            cluster.close()
    # Its kernels compile on the smallest frame's warm-up; each sweep then runs once.
    vectorbt_by_bars = {
        count: measured(vectorbt_run(data), 1, memory, warm_up=count == counts[0])
        for count, data in frames.items()
    }
    vectorbt = vectorbt_by_bars[bars]

    peer = vectorbt.seconds
    efficiency = public[1].seconds / (2 * public[2].seconds)
    met = (
        public[2].seconds <= TARGET_RATIO * peer
        and public[2].peak_cluster_bytes < MEMORY_LIMIT_BYTES
    )
    title = f"{combinations} sma_cross combinations, {bars:,} bars"
    rows = [
        (
            f"vectorbt chunked sweep, {title}",
            f"{peer:.2f} s",
            f"peak {memory_note(vectorbt)}; {VECTORBT_CHUNK_COLUMNS} columns per call",
        ),
        (
            "run_sweep in one process (floor)",
            f"{in_process.seconds:.2f} s",
            f"{ratio(in_process.seconds, peer)} of vectorbt; "
            f"{in_process.seconds / combinations * 1000:.1f} ms per combination; "
            f"peak {memory_note(in_process)}",
        ),
    ]
    for workers, result in public.items():
        rows.append(
            (
                f"quantdesk.sweep, local Dask cluster, {workers} worker(s)",
                f"{result.seconds:.2f} s",
                f"{ratio(result.seconds, peer)} of vectorbt; peak {memory_note(result)}",
            )
        )
    for workers, result in unadmitted.items():
        rows.append(
            (
                f"same job, admission never waiting, {workers} worker(s)",
                f"{result.seconds:.2f} s",
                f"{ratio(result.seconds, peer)} of vectorbt; peak {memory_note(result)}",
            )
        )
    rows.append(
        (
            "scaling efficiency, 1 -> 2 workers",
            f"{efficiency:.0%}",
            f"target <= {TARGET_RATIO}x vectorbt and a cluster of 2 workers < 1 GB: "
            f"{'met' if met else 'NOT met'}",
        )
    )
    for size, result in by_grid.items():
        rows.append(
            (
                f"quantdesk.sweep, 2 workers, {size} combinations, {bars:,} bars",
                f"{result.seconds:.2f} s",
                f"{result.seconds / size * 1000:.1f} ms per combination; "
                f"cluster peak {gigabytes(result.peak_cluster_bytes)}",
            )
        )
    for count, result in by_bars.items():
        reference = vectorbt_by_bars[count].seconds
        rows.append(
            (
                f"quantdesk.sweep, 2 workers, {combinations} combinations, {count:,} bars",
                f"{result.seconds:.2f} s",
                f"vectorbt {reference:.2f} s: {ratio(result.seconds, reference)}; "
                f"cluster peak {gigabytes(result.peak_cluster_bytes)}",
            )
        )
    rows.append(
        (
            "host load average (1, 5, 15 min) at the end",
            ", ".join(f"{load:.1f}" for load in os.getloadavg()),
            f"{os.cpu_count()} cores; other work on the host slows every row",
        )
    )
    print_markdown_table(rows)


if __name__ == "__main__":
    main()
