"""The environment the cluster's processes start with: nothing secret in it.

A task runs any code the submitter pickled, so whatever a worker process can
see, every task can: ``client.run(lambda: dict(os.environ))`` would read a
database URL or an API key straight out of it, and so would
``/proc/self/environ``, which removing a variable after the start does not
clear. The scheduler and workers are therefore started as a new process
whose environment is built from an allow-list, never inherited whole.

It also sets glibc's allocator (:data:`ALLOCATOR_DEFAULTS`): Dask's nanny
starts each worker with ``MALLOC_TRIM_THRESHOLD_``, which switches off glibc's
adaptive mmap threshold, so every array above 128 KiB was a fresh ``mmap``
whose pages fault in again on each use; on one-million-bar sweeps that made
every chunk about 1.5 times slower than the same code in a notebook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

KEPT_NAMES = frozenset(
    {
        "HOME",
        "LANG",
        "LD_LIBRARY_PATH",
        "LOGNAME",
        "PATH",
        "PYTHONHASHSEED",
        "PYTHONPATH",
        "SHELL",
        "SYSTEMROOT",
        "TEMP",
        "TMP",
        "TMPDIR",
        "TZ",
        "USER",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
    }
)
"""Variables a Python process needs to start and find its packages."""
KEPT_PREFIXES = ("LC_", "DASK_", "NUMBA_", "OMP_", "MKL_", "OPENBLAS_", "MALLOC_")
"""Locale and the tuning of Dask, the numeric libraries and the allocator."""
ALLOCATOR_DEFAULTS = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20)}
"""Arrays up to 64 MiB come from the heap and are reused; set the variable to override it."""
SECRET_WORDS = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH|URL", re.IGNORECASE)
"""A kept variable whose name has one of these words is dropped all the same."""


def worker_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The part of ``environment`` a cluster process may see.

    Parameters
    ----------
    environment
        The starting process's environment, usually ``os.environ``.

    Returns
    -------
    dict
        Only allow-listed variables, never a ``QUANTDESK_*`` setting, a
        PostgreSQL variable, or a name that reads like a secret; and
        :data:`ALLOCATOR_DEFAULTS` where ``environment`` does not set them.
    """
    kept = {
        name: value
        for name, value in environment.items()
        if (name in KEPT_NAMES or name.startswith(KEPT_PREFIXES)) and not SECRET_WORDS.search(name)
    }
    return {**ALLOCATOR_DEFAULTS, **kept}
