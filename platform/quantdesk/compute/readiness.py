"""Waiting for a service this process started to answer, or saying in one line why it did not."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from quantdesk.compute.cluster import stop_process
from quantdesk.errors import QuantdeskError

__all__ = ["answers_http", "wait_until_ready"]

POLL_SECONDS = 0.05


def answers_http(url: str, *, timeout_seconds: float = 1.0) -> bool:
    """Whether ``url`` answers HTTP 200 now.

    Parameters
    ----------
    url
        A health-check address.
    timeout_seconds
        How long the request may take.

    Returns
    -------
    bool
        False for any error, refusal or other status.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    *,
    timeout_seconds: float,
    service: str,
    where: str,
    error: type[QuantdeskError],
) -> None:
    """Poll ``ready`` until it holds; fail if ``process`` exits or time runs out (then stop it).

    Parameters
    ----------
    process
        The service's process.
    ready
        Whether it answers yet.
    timeout_seconds
        How long to wait.
    service
        What the messages call it, e.g. ``"the hub"``.
    where
        Appended to the messages, e.g. ``"; see /path/hub.log"`` (may be empty).
    error
        The exception class to raise.

    Raises
    ------
    QuantdeskError
        ``error``, one line, when the process exited or did not answer in time.
    """
    deadline = time.monotonic() + timeout_seconds
    while not ready():
        if process.poll() is not None:
            raise error(f"{service} exited while starting{where}")
        if time.monotonic() > deadline:
            stop_process(process.pid)
            raise error(f"{service} did not answer within {timeout_seconds:g} s{where}")
        time.sleep(POLL_SECONDS)
