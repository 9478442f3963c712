"""Every notebook in notebooks/ runs from top to bottom in a real kernel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs(
    path: Path, database_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = database_user("notebook")
    url = user.url.set(drivername="postgresql").render_as_string(hide_password=False)
    monkeypatch.setenv("QUANTDESK_DATABASE_URL", url)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    assert printed.strip(), "a notebook should print what it found"
    if path.name == "01-market-data-tour.ipynb":
        assert "second load was a cache hit: True" in printed
    if path.name == "02-saved-runs-and-keys.ipynb":
        assert "reloaded stats identical: True" in printed
        assert "<redacted>" in printed
        assert "demo-secret-not-a-real-one" not in printed
