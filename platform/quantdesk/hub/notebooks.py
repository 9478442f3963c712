"""The research notebooks, handed to each person's server the first time it starts.

Each person gets their own copy in ``~/quantdesk-notebooks`` (owned by them
as root), so they open, run and change them freely; a folder already there
is never touched again, so nobody's edits are overwritten.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

from quantdesk.hub.files import PROJECT_ROOT

NOTEBOOKS_DIRECTORY = PROJECT_ROOT / "notebooks"
"""The repository's notebooks, the source of every copy."""
FOLDER_NAME = "quantdesk-notebooks"
"""The folder in a person's home that holds their copy."""


def hand_out_notebooks(home: Path, owner: str | None) -> Path | None:
    """Copy the notebooks into ``home/quantdesk-notebooks`` unless that folder exists.

    Parameters
    ----------
    home
        The person's home directory (their server's working directory).
    owner
        The OS account to own the copy (as root); None to keep the hub's own.

    Returns
    -------
    pathlib.Path or None
        The folder when this call made it, else None (it existed, or this
        installation has no notebooks to copy).
    """
    target = home / FOLDER_NAME
    sources = sorted(NOTEBOOKS_DIRECTORY.glob("*.ipynb"))
    if not sources or target.exists() or not home.is_dir():
        return None
    staging = home / f".{FOLDER_NAME}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    for source in [*sources, NOTEBOOKS_DIRECTORY / "README.md"]:
        if source.is_file():
            shutil.copyfile(source, staging / source.name)
    if owner is not None:
        account = pwd.getpwnam(owner)
        for path in [staging, *staging.iterdir()]:
            os.chown(path, account.pw_uid, account.pw_gid)
    staging.rename(target)
    return target
