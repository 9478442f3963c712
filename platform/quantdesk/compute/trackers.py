"""One job tracker per cluster and database in a process, shared by every submission.

Admission counts a user's running jobs, so the jobs a kernel submits must go
through one tracker; :func:`shared_tracker` keeps it, with the client it
opened when the caller gave none, and closes both when the process exits
(cancelling what is unfinished, so nothing is left running unrecorded).
"""

from __future__ import annotations

import atexit
import hashlib
import threading
from typing import Any

from quantdesk.compute.cluster import connect
from quantdesk.compute.jobs import JobTracker
from quantdesk.config import Settings

__all__ = ["close_shared_trackers", "shared_tracker"]

_trackers: dict[tuple[object, ...], JobTracker] = {}
_clients: dict[tuple[object, ...], Any] = {}
_lock = threading.Lock()


def shared_tracker(settings: Settings, *, record: bool, client: Any | None = None) -> JobTracker:
    """The process's tracker for ``client`` (or the configured cluster) and the user's database.

    Parameters
    ----------
    settings
        Where the cluster and the database are.
    record
        Keep the jobs as rows of the user's ``quantdesk.jobs``.
    client
        A ``distributed.Client``; the cluster :func:`~quantdesk.compute.cluster.connect`
        picks when None (opened once, then reused).

    Returns
    -------
    JobTracker
        Shared by every call with the same client and database.

    Raises
    ------
    SchedulerUnavailableError
        If the configured scheduler or gateway cannot be reached.
    """
    database = _fingerprint(settings) if record else None
    with _lock:
        if client is None:
            where = (settings.gateway, settings.scheduler, str(settings.compute_dir))
            client = _clients.get(where)
            if client is None or client.status in ("closing", "closed"):
                client = connect(settings)
                _clients[where] = client
        key = (id(client), database)
        tracker = _trackers.get(key)
        if tracker is None or tracker.client is not client:
            if not _trackers:
                atexit.register(close_shared_trackers)
            tracker = JobTracker(client, settings=settings, record=record)
            _trackers[key] = tracker
        return tracker


def close_shared_trackers() -> None:
    """Close every shared tracker (cancelling unfinished jobs) and the clients opened for them."""
    with _lock:
        trackers = list(_trackers.values())
        clients = list(_clients.values())
        _trackers.clear()
        _clients.clear()
    for tracker in trackers:
        tracker.close()
    for client in clients:
        client.close()


def _fingerprint(settings: Settings) -> str:
    # The database URL holds a password, so only its digest is kept as a key.
    url = "" if settings.database_url is None else settings.database_url.get_secret_value()
    return hashlib.sha256(url.encode()).hexdigest()
