"""Writing a secret to a file: atomically, mode 0600, never half-written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private_text(
    path: Path, content: str, *, owner: tuple[int, int] | None = None, exclusive: bool = False
) -> None:
    """Replace ``path`` with ``content``, readable by its owner only (mode 0600).

    The text goes to a new temporary file beside ``path``, is synced, then
    renamed over it, so a reader sees the old content or the new, never a mix;
    the directory is synced too, so the rename survives a power loss.

    Parameters
    ----------
    path
        The file to write.
    content
        The text.
    owner
        ``(uid, gid)`` to give the file (root only); the caller's when None.
    exclusive
        Never replace an existing ``path``: create it like ``O_EXCL`` does.

    Raises
    ------
    FileExistsError
        If ``exclusive`` and ``path`` exists; it is left untouched.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if owner is not None:
            os.fchown(descriptor, *owner)
        os.write(descriptor, content.encode())
        os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        temporary.unlink(missing_ok=True)
        raise
    os.close(descriptor)
    if exclusive:
        try:
            os.link(temporary, path)
        finally:
            temporary.unlink()
    else:
        temporary.replace(path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Flush ``directory``'s entries to disk, so a rename or new file in it survives a power loss.

    Parameters
    ----------
    directory
        The directory.
    """
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
