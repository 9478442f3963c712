"""The overview: your account, your recent runs, and your jobs with live progress.

The job table is redrawn when :func:`quantdesk.watch_jobs` reports a change
to one of your jobs (a thread waits on the database's notifications), and at
most once a second however many changes arrive.
"""

from __future__ import annotations

import threading

import panel as pn

from quantdesk.api.accounts import Account, account, owned_jobs
from quantdesk.api.jobs import watch_jobs
from quantdesk.api.runs import list_runs
from quantdesk.config import Settings
from quantdesk.errors import QuantdeskError
from quantdesk.ui.feedback import Notice
from quantdesk.ui.job_progress import REFRESH_SECONDS
from quantdesk.ui.page import build_page
from quantdesk.ui.tables import jobs_frame, read_only_table, runs_frame
from quantdesk.ui.tiles import tiles_html

__all__ = ["overview_page"]

RECENT = 10


def overview_page(settings: Settings | None = None) -> pn.layout.Column:
    """The overview dashboard, as the viewer's database role.

    Your account, recent runs and jobs with live progress; ``settings`` are read from the
    environment when None.
    """
    return build_page("overview", _overview, settings)


def _overview(notice: Notice, settings: Settings) -> list[pn.viewable.Viewable]:
    summary = pn.pane.HTML("", margin=(5, 10))
    runs_table = read_only_table(runs_frame([]), page_size=RECENT)
    jobs_table = read_only_table(jobs_frame([]))
    changed = threading.Event()

    def refresh_jobs() -> None:
        with notice.guard():
            summary.object = _summary_html(account(settings))
            jobs = owned_jobs(limit=RECENT * 2, settings=settings)
            jobs_table.object = jobs_frame([owned.job for owned in jobs])

    def refresh_when_changed() -> None:
        if changed.is_set():
            changed.clear()
            refresh_jobs()

    refresh_jobs()
    with notice.guard():
        runs_table.object = runs_frame(list_runs(limit=RECENT, settings=settings))
    _follow_jobs(changed, notice, settings)
    pn.state.add_periodic_callback(refresh_when_changed, period=int(REFRESH_SECONDS * 1000))
    return [
        summary,
        pn.pane.Markdown("### Your jobs", margin=(5, 10)),
        jobs_table,
        pn.pane.Markdown("### Your recent runs", margin=(5, 10)),
        runs_table,
    ]


def _follow_jobs(changed: threading.Event, notice: Notice, settings: Settings) -> None:
    """Set ``changed`` whenever one of the viewer's jobs changes, until the session ends."""
    stop = threading.Event()

    def watch() -> None:
        try:
            for _ in watch_jobs(stop=stop, poll_interval=REFRESH_SECONDS, settings=settings):
                changed.set()
        except QuantdeskError as error:
            notice.error(error)

    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda _: stop.set())
    threading.Thread(target=watch, name="quantdesk-ui-watch-jobs", daemon=True).start()


def _summary_html(viewer: Account) -> str:
    role = "admin" if viewer.admin else "user"
    return tiles_html(
        [
            ("Signed in as", f"{viewer.name} ({role})"),
            ("Saved runs", str(viewer.runs)),
            ("Jobs", f"{viewer.jobs} ({viewer.unfinished_jobs} unfinished)"),
            ("API keys", str(viewer.api_keys)),
            ("Models", str(viewer.models)),
        ],
        css_class="quantdesk-account",
    )
