"""Find the PostgreSQL server programs the embedded database runs.

The system's packages (Debian's ``/usr/lib/postgresql/N/bin``) and a conda
environment's ``bin`` are both searched; the newest version wins.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from quantdesk.errors import ConfigurationError

MINIMUM_MAJOR_VERSION = 15
"""Views with security_invoker and ON DELETE SET NULL (column) arrived in PostgreSQL 15."""
PROGRAMS = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = (
    "install PostgreSQL >= 15 with its contrib modules: 'apt-get install postgresql "
    "postgresql-contrib' (Debian/Ubuntu) or 'conda install -c conda-forge postgresql'"
)
_VERSION_PATTERN = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class ServerBinaries:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, and their version.

    Attributes
    ----------
    directory
        The ``bin`` directory.
    major_version
        The PostgreSQL major version, for example 15.
    """

    directory: Path
    major_version: int

    def program(self, name: str) -> str:
        """The full path of one of :data:`PROGRAMS`.

        Parameters
        ----------
        name
            ``"initdb"``, ``"pg_ctl"`` or ``"postgres"``.

        Returns
        -------
        str
            The program's path.
        """
        return str(self.directory / name)


def candidate_directories() -> list[Path]:
    """Every directory that might hold the server programs, most specific first.

    Returns
    -------
    list of Path
        The conda environment's ``bin``, the directories on ``PATH``, then
        Debian's versioned directories, newest first.
    """
    candidates: list[Path] = []
    conda_prefix = os.environ.get("CONDA_PREFIX")
    if conda_prefix:
        candidates.append(Path(conda_prefix) / "bin")
    candidates.append(Path(sys.prefix) / "bin")
    for program in ("pg_ctl", "initdb"):
        found = shutil.which(program)
        if found:
            candidates.append(Path(found).resolve().parent)
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versioned = [entry / "bin" for entry in debian.iterdir() if entry.name.isdigit()]
        candidates.extend(sorted(versioned, key=lambda path: int(path.parent.name), reverse=True))
    unique: list[Path] = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def find_server_binaries(directory: Path | None = None) -> ServerBinaries:
    """The newest PostgreSQL >= 15 whose ``initdb``, ``pg_ctl`` and ``postgres`` are all present.

    Parameters
    ----------
    directory
        Search only here (``QUANTDESK_POSTGRES_BIN_DIR``); everywhere
        :func:`candidate_directories` lists when None.

    Returns
    -------
    ServerBinaries
        Where the programs are and their version.

    Raises
    ------
    ConfigurationError
        If none is found, naming the packages to install.
    """
    found: list[ServerBinaries] = []
    too_old: list[str] = []
    searched = [directory] if directory is not None else candidate_directories()
    for candidate in searched:
        if not all(os.access(candidate / program, os.X_OK) for program in PROGRAMS):
            continue
        major = _major_version(candidate / "postgres")
        if major is None:
            continue
        if major < MINIMUM_MAJOR_VERSION:
            too_old.append(f"{candidate} has PostgreSQL {major}")
            continue
        found.append(ServerBinaries(directory=candidate, major_version=major))
    if not found:
        older = f" ({'; '.join(too_old)})" if too_old else ""
        where = f" in {directory} (QUANTDESK_POSTGRES_BIN_DIR)" if directory is not None else ""
        raise ConfigurationError(
            f"the PostgreSQL server programs (initdb, pg_ctl) were not found{where}{older}; "
            f"{INSTALL_HINT}, or set QUANTDESK_ADMIN_DATABASE_URL to use an existing server"
        )
    return max(found, key=lambda binaries: binaries.major_version)


def _major_version(postgres: Path) -> int | None:
    try:
        output = subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_PATTERN.search(output)
    return int(match.group(1)) if match else None
