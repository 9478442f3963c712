"""Which process a recorded pid is now: pids are reused, so a state file's pid is checked."""

from __future__ import annotations

import psutil

__all__ = ["runs_module"]


def runs_module(pid: int, module: str) -> bool:
    """Whether ``pid`` is a live process whose command line runs ``module``.

    Parameters
    ----------
    pid
        A process id, e.g. from a state file.
    module
        A module name as it appears after ``-m``.

    Returns
    -------
    bool
        False for a missing, zombie or foreign (unreadable) process, or another program.
    """
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and module in process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
