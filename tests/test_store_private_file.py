"""Private files: atomic, mode 0600, durable, and never replacing a file when told not to."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from quantdesk.store.private_file import write_private_text


def test_the_directory_is_synced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, Path.replace

    def recording_fsync(descriptor: int) -> None:
        events.append("directory" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        real_fsync(descriptor)

    def recording_replace(self: Path, target: str | os.PathLike[str]) -> Path:
        events.append("rename")
        return real_replace(self, target)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(Path, "replace", recording_replace)
    write_private_text(tmp_path / "secret", "content\n")

    assert events == ["file", "rename", "directory"]
    assert (tmp_path / "secret").read_text() == "content\n"
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


def test_an_exclusive_write_never_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "next"
    write_private_text(path, "first\n", exclusive=True)
    with pytest.raises(FileExistsError):
        write_private_text(path, "second\n", exclusive=True)
    assert path.read_text() == "first\n"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["next"]
