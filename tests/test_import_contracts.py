"""The import contracts bite: every module sits in a layer, and a planted import breaks each.

``.ci/run`` checks that the real tree keeps every contract. Here a
copy of the library gets one forbidden import per contract (the issue's own
example among them: ``import holoviews, ccxt`` in ``core/gaps.py``), and
import-linter, run on the copy, must report every contract broken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "platform" / "quantdesk"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

PLANTS = {
    "Layers: the CLI on the API, the API on compute and storage, those on the engine": (
        "store/roles.py",
        "import quantdesk.api.runs",
    ),
    "Pure computation does no I/O and imports no storage, network or UI": (
        "core/gaps.py",
        "import holoviews, ccxt",
    ),
    "Storage and data import no UI": ("data/loader.py", "import holoviews"),
    "Compute imports no UI": ("compute/sizing.py", "import bokeh"),
    "The CLI reaches the library only through the API": (
        "cli/info_commands.py",
        "import quantdesk.store.users",
    ),
    "Charts draw results: they import no storage, data or network": (
        "charts/backtest.py",
        "import requests",
    ),
}


def contracts() -> list[dict[str, object]]:
    configuration = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: list[dict[str, object]] = configuration["tool"]["importlinter"]["contracts"]
    return found


def test_every_module_of_the_library_sits_in_a_layer() -> None:
    layered = {
        name.strip()
        for contract in contracts()
        if contract["type"] == "layers"
        for layer in contract["layers"]  # type: ignore[attr-defined]
        for name in str(layer).split("|")
    }
    modules = {
        f"quantdesk.{path.stem if path.is_file() else path.name}"
        for path in LIBRARY.iterdir()
        if (path.is_dir() and (path / "__init__.py").is_file())
        or (path.suffix == ".py" and path.name != "__init__.py")
    }
    assert modules - layered == set()


def test_each_contract_is_named_by_a_plant() -> None:
    assert {str(contract["name"]) for contract in contracts()} == set(PLANTS)


def test_a_planted_import_breaks_each_contract(tmp_path: Path) -> None:
    copy = tmp_path / "quantdesk"
    shutil.copytree(LIBRARY, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, statement in PLANTS.values():
        planted = copy / relative
        planted.write_text(planted.read_text() + f"\n{statement}  # planted by the test\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")

    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    report = " ".join(result.stdout.split())
    assert result.returncode == 1, result.stdout + result.stderr
    for name in PLANTS:
        assert f"{name} BROKEN" in report, (name, result.stdout)


def test_dir_of_the_package_lists_its_public_names_only() -> None:
    import quantdesk

    listed = dir(quantdesk)
    assert listed == sorted(quantdesk.__all__)
    assert not {"Any", "TYPE_CHECKING", "importlib", "annotations"} & set(listed)
