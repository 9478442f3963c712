"""Writing a secret to a file: atomically, mode 0600, never half-written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private_text(path: Path, content: str, *, owner: tuple[int, int] | None = None) -> None:
    """Replace ``path`` with ``content``, readable by its owner only (mode 0600).

    The text goes to a new temporary file beside ``path``, is synced, then
    renamed over it, so a reader sees the old content or the new, never a mix.

    Parameters
    ----------
    path
        The file to write.
    content
        The text.
    owner
        ``(uid, gid)`` to give the file (root only); the caller's when None.
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
    temporary.replace(path)
