"""The notebooks: each runs top to bottom under nbval, and each stays in step with its twin.

nbval runs every cell in a real kernel and compares its output with the one
stored in the notebook, except cells marked ``# NBVAL_IGNORE_OUTPUT`` (ids,
times, progress bars and plots), whose key numbers assert cells check
instead. It runs in a process of its own so the kernel gets this test's
database user and a fresh data directory, as a user's kernel would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
EXPECTED = [
    "01-quickstart",
    "02-market-data",
    "03-write-a-strategy",
    "04-sweeps-and-walk-forward",
    "05-predictions",
    "06-saved-runs-and-keys",
]
CELL_TIMEOUT_SECONDS = 120


def test_the_notebooks_are_the_six_of_the_tour() -> None:
    assert [path.stem for path in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_each_notebook_has_a_percent_format_twin_in_step(path: Path) -> None:
    twin = path.with_suffix(".py")
    assert twin.exists(), f"{twin.name} is missing; run jupytext --set-formats ipynb,py:percent"
    text = twin.read_text()
    assert "format_name: percent" in text
    notebook = nbformat.read(path, as_version=4)
    paired = jupytext.reads(text, fmt="py:percent")
    assert [(cell.cell_type, cell.source) for cell in notebook.cells] == [
        (cell.cell_type, cell.source) for cell in paired.cells
    ], f"{path.name} and {twin.name} differ; run jupytext --sync {twin.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_each_notebook_stores_the_outputs_nbval_compares(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    compared = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and "NBVAL_IGNORE_OUTPUT" not in cell.source
    ]
    assert any(cell.outputs for cell in compared), f"{path.name} has no stored output to compare"
    assert all(
        "error" not in [output.get("output_type") for output in cell.outputs]
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_each_notebook_runs_and_reproduces_its_outputs(
    path: Path, database_user: Callable[..., Any], tmp_path: Path
) -> None:
    user = database_user("notebook")
    url = user.url.set(drivername="postgresql").render_as_string(hide_password=False)
    environment = {
        **os.environ,
        "QUANTDESK_DATABASE_URL": url,
        "QUANTDESK_DATA_DIR": str(tmp_path / "data"),
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            f"--nbval-cell-timeout={CELL_TIMEOUT_SECONDS}",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            "-q",
            str(path),
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]


ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "notebooks"


def test_the_quickstart_renders_in_a_browser_with_its_stored_results() -> None:
    from nbconvert import HTMLExporter
    from playwright.sync_api import sync_playwright

    from tests.dashboard_servers import CHROMIUM, chromium_available

    if not chromium_available():
        pytest.fail(f"no Chromium at {CHROMIUM}; 'bash .ci/bootstrap dev' installs Debian's")
    notebook = nbformat.read(FOLDER / "01-quickstart.ipynb", as_version=4)
    stats_cell = next(
        cell for cell in notebook.cells if cell.cell_type == "code" and "shown = [" in cell.source
    )
    printed = "".join(output.get("text", "") for output in stats_cell.outputs)
    sharpe_line = next(line.strip() for line in printed.splitlines() if "sharpe" in line)
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page_file = ARTIFACTS / "01-quickstart.html"
    page_file.write_text(html)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            # The page is read from disk and may fetch nothing from the network.
            page.route("http*://**", lambda route: route.abort())
            page.goto(page_file.as_uri())
            shown = page.inner_text("body")
            page.screenshot(path=ARTIFACTS / "01-quickstart.png", full_page=False)
        finally:
            browser.close()
    assert "Quickstart: a first backtest" in shown
    assert sharpe_line in " ".join(shown.split())
