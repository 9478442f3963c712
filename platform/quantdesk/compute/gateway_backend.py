"""The gateway's backend as root: each user's cluster under their own OS account.

dask-gateway-server's ``LocalBackend`` (2026.3) hands the new cluster's
working directory to the user with ``paths.extend(path)`` where it means
``append``, so it chowns each *character* of the TLS files' paths: the first
is ``/``, and the root directory becomes the user's before the next
character fails and the cluster with it. :class:`AccountBackend` hands over
the working directory by walking it instead, touching nothing outside it;
everything else is ``LocalBackend``'s.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from dask_gateway_server.backends.local import LocalBackend


class AccountBackend(LocalBackend):  # type: ignore[misc]
    """``LocalBackend`` whose working-directory hand-over stays inside the working directory."""

    def set_file_permissions(self, paths: list[str], username: str) -> None:
        """Give the cluster's working directory and everything in it to ``username``.

        Parameters
        ----------
        paths
            What ``LocalBackend`` created; the first is the working directory.
        username
            The cluster's OS account.
        """
        account = pwd.getpwnam(username)
        working_directory = Path(paths[0])
        for path in [working_directory, *working_directory.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
