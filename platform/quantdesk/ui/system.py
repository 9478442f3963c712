"""The system page, for admins: the host's CPU and RAM, the cluster's workers and queue, all jobs.

Who is an admin is the database's answer, asked as the viewer's own role: a
non-admin gets a one-line refusal and no data. Even a page that forgot to
ask could not show them more, since everyone's jobs are read under
row-level security, which gives a non-admin their own rows only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pandas as pd
import panel as pn

from quantdesk.api.accounts import SystemStatus, require_admin, system_status
from quantdesk.config import Settings
from quantdesk.ui.feedback import Notice, run_blocking
from quantdesk.ui.page import build_page
from quantdesk.ui.tables import jobs_frame, read_only_table
from quantdesk.ui.tiles import tiles_html

__all__ = ["system_page", "workers_frame"]

REFRESH_MILLISECONDS = 5000
"""How often the page reads the system again while it is open."""
GIB = 1024**3


def system_page(settings: Settings | None = None) -> pn.layout.Column:
    """The system dashboard, as the viewer's database role.

    Admins only: the host, the cluster and every user's jobs; ``settings`` are read from the
    environment when None.
    """
    return build_page("system", _system, settings)


WORKER_COLUMNS = (
    "worker",
    "threads",
    "memory (GiB)",
    "memory limit (GiB)",
    "CPU %",
    "running tasks",
)


def workers_frame(status: SystemStatus | None) -> pd.DataFrame:
    """The cluster's workers, one row each: threads, memory and CPU, running tasks."""
    return pd.DataFrame(
        [
            {
                "worker": worker.address,
                "threads": worker.threads,
                "memory (GiB)": round(worker.memory_bytes / GIB, 2),
                "memory limit (GiB)": round(worker.memory_limit_bytes / GIB, 2),
                "CPU %": round(worker.cpu_percent, 1),
                "running tasks": worker.running_tasks,
            }
            for worker in (status.cluster.workers if status is not None else ())
        ],
        columns=list(WORKER_COLUMNS),
    )


def _system(notice: Notice, settings: Settings) -> list[pn.viewable.Viewable]:
    # A non-admin is refused here, before any of the admin's tables are built; the
    # page's frame shows the refusal as one sentence.
    require_admin(settings)
    host = pn.pane.HTML("", margin=(5, 10))
    workers = read_only_table(workers_frame(None), page_size=8)
    jobs = read_only_table(jobs_frame([], owners=[]))
    body = pn.Column(
        host,
        pn.pane.Markdown("### Cluster workers", margin=(5, 10)),
        workers,
        pn.pane.Markdown("### Every user's jobs", margin=(5, 10)),
        jobs,
        sizing_mode="stretch_width",
        min_height=50,
    )

    async def refresh() -> None:
        with notice.guard():
            status = await run_blocking(system_status, busy=body, settings=settings)
            host.object = _host_html(status)
            workers.object = workers_frame(status)
            jobs.object = jobs_frame(
                [owned.job for owned in status.jobs], owners=[owned.owner for owned in status.jobs]
            )

    # Panel awaits a coroutine function given as the callback.
    callback = cast(Callable[[], None], refresh)
    pn.state.onload(callback)
    pn.state.add_periodic_callback(callback, period=REFRESH_MILLISECONDS)
    return [body]


def _host_html(status: SystemStatus) -> str:
    cluster = status.cluster
    used = cluster.host_memory_total_bytes - cluster.host_memory_available_bytes
    cells = [
        ("Host CPU", f"{cluster.host_cpu_percent:.0f} %"),
        ("Host RAM", f"{used / GIB:.1f} of {cluster.host_memory_total_bytes / GIB:.1f} GiB"),
        ("Scheduler", cluster.address),
        ("Workers", str(len(cluster.workers))),
        ("Running tasks", str(cluster.running_tasks)),
        ("Queued tasks", str(cluster.queued_tasks)),
    ]
    return tiles_html(cells, css_class="quantdesk-host")
