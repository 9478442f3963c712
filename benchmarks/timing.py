"""Timing and reporting helpers the benchmark scripts share."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable

DEFAULT_REPEATS = 7


def median_seconds(
    action: Callable[[], object], repeats: int = DEFAULT_REPEATS, *, warm_up: bool = False
) -> float:
    """Median wall time of ``action`` over ``repeats`` runs.

    Parameters
    ----------
    action
        What to time.
    repeats
        Timed runs, at least 1.
    warm_up
        Run it once untimed first (connections, caches, compiled kernels).

    Returns
    -------
    float
        Seconds.
    """
    if warm_up:
        action()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def print_markdown_table(rows: Iterable[tuple[str, str, str]]) -> None:
    """Print ``(measurement, result, note)`` rows as the README's Markdown table.

    Parameters
    ----------
    rows
        One tuple per row.
    """
    print("| measurement | result | note |")
    print("|---|---|---|")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")
