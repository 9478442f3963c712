"""``quantdesk cluster``: the long-lived local Dask cluster.

``up`` starts it sized from this host and prints the scheduler's address and
the dashboard's link; ``status`` shows the host's CPU and RAM, the workers,
and the running and queued tasks (of ``QUANTDESK_SCHEDULER``'s scheduler
when it is set); ``down`` stops it.
"""

from __future__ import annotations

import click

from quantdesk.cli.output import emit, json_option, table_text

_MIB = 1024**2


@click.group("cluster")
def cluster() -> None:
    """The Dask cluster backtests and sweeps run on."""


@cluster.command("up")
@click.option(
    "--dashboard-address",
    default=None,
    help="Where the Dask dashboard listens [default: 127.0.0.1:8787, another port if taken].",
)
@json_option
def up_command(dashboard_address: str | None, as_json: bool) -> None:
    """Start a local cluster, one worker per physical core, that runs until 'cluster down'."""
    from quantdesk.api.cluster import cluster_up
    from quantdesk.config import Settings

    options = {"dashboard_address": dashboard_address} if dashboard_address else {}
    record = cluster_up(Settings.load(), **options)
    size = record.size
    text = (
        f"cluster up: scheduler {record.address}, dashboard {record.dashboard_link}; "
        f"{size.workers} worker(s) x {size.threads_per_worker} thread(s), "
        f"{size.memory_limit_bytes / _MIB:,.0f} MiB each"
    )
    emit(record.to_json(), as_json=as_json, text=text)


@cluster.command("status")
@json_option
def status_command(as_json: bool) -> None:
    """Show the host's CPU and RAM, the workers, and the running and queued tasks."""
    from quantdesk.api.cluster import cluster_status
    from quantdesk.config import Settings

    status = cluster_status(Settings.load())
    rows = [
        [
            worker.address,
            str(worker.threads),
            f"{worker.memory_bytes / _MIB:,.0f} / {worker.memory_limit_bytes / _MIB:,.0f} MiB",
            f"{worker.cpu_percent:.0f} %",
            str(worker.running_tasks),
        ]
        for worker in status.workers
    ]
    lines = [
        f"scheduler {status.address}, dashboard {status.dashboard_link or 'none'}",
        f"host: CPU {status.host_cpu_percent:.0f} %, RAM "
        f"{status.host_memory_available_bytes / _MIB:,.0f} MiB free of "
        f"{status.host_memory_total_bytes / _MIB:,.0f} MiB",
        f"tasks: {status.running_tasks} running, {status.queued_tasks} queued",
        table_text(["worker", "threads", "memory", "cpu", "running"], rows),
    ]
    emit(status.to_json(), as_json=as_json, text="\n".join(lines))


@cluster.command("down")
@json_option
def down_command(as_json: bool) -> None:
    """Stop the local cluster 'cluster up' started."""
    from quantdesk.api.cluster import cluster_down
    from quantdesk.config import Settings

    record = cluster_down(Settings.load())
    emit(
        {"stopped": True, **record.to_json()},
        as_json=as_json,
        text=f"cluster down: stopped the scheduler at {record.address}",
    )
