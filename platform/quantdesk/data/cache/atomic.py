"""Replacing a file atomically, so readers and crashes see the old or the new file.

Content goes to a hidden temporary file in the target's directory, is flushed
and fsynced, then renamed over the target with :func:`os.replace`, which is
atomic on POSIX and Windows. A process killed before the rename leaves the
target untouched and a stale temporary file that matches no data-file name;
:func:`remove_stale_temporary_files` deletes those while the series lock is held.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMPORARY_SUFFIX = ".tmp"


def write_atomically(target: Path, write_content: Callable[[BinaryIO], None]) -> None:
    """Create or replace ``target`` with what ``write_content`` writes, all or nothing.

    Parameters
    ----------
    target
        The file to create or replace; its directory must exist.
    write_content
        Writes the whole content to the binary handle it is given; it must not
        close the handle.
    """
    descriptor, temporary_name = _create_temporary_file(target)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write_content(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary_name)
        raise
    sync_directory(target.parent)


def _create_temporary_file(target: Path) -> tuple[int, str]:
    # Unlike tempfile.mkstemp (mode 0600), mode 0666 minus the umask lets a
    # cache shared between accounts stay readable to them.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        name = str(target.parent / f".{target.name}.{secrets.token_hex(8)}{TEMPORARY_SUFFIX}")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue


def sync_directory(directory: Path) -> None:
    """Make a rename or deletion in ``directory`` durable, where the platform allows it.

    Parameters
    ----------
    directory
        The directory whose entries changed.
    """
    if not hasattr(os, "O_DIRECTORY"):
        return  # Windows cannot open a directory to fsync it.
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def is_temporary_file(path: Path) -> bool:
    """Tell whether ``path`` is a temporary file made by :func:`write_atomically`.

    Parameters
    ----------
    path
        A file in a series directory.

    Returns
    -------
    bool
        True for hidden ``.tmp`` files.
    """
    return path.name.startswith(".") and path.name.endswith(TEMPORARY_SUFFIX)


def remove_stale_temporary_files(directory: Path) -> int:
    """Delete temporary files left by writers that died before renaming them.

    Call it only while holding the directory's writer lock, so no live
    writer's temporary file is taken.

    Parameters
    ----------
    directory
        A series directory.

    Returns
    -------
    int
        How many files were deleted.
    """
    removed = 0
    for path in directory.iterdir():
        if is_temporary_file(path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed
