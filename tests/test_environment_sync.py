"""environment.yml must offer the same Python packages, at the same floors, as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE_PACKAGES = {"python", "pip", "postgresql", "nodejs", "configurable-http-proxy"}
# conda-forge splits or renames a few PyPI distributions.
CONDA_NAMES = {"dask[distributed]": ["dask", "distributed"], "psycopg[binary]": ["psycopg"]}


def requirement_parts(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)", text)
    if match is None:
        raise ValueError(f"cannot read requirement {text!r}")
    return match.group(1).lower(), match.group(2).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines.extend(extra)
    wanted: dict[str, str] = {}
    for line in lines:
        name, floor = requirement_parts(line)
        for conda_name in CONDA_NAMES.get(name, [name]):
            wanted[conda_name] = floor
    return wanted


def environment_requirements() -> dict[str, str]:
    found: dict[str, str] = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("\ndependencies:", 1)[1].splitlines():
        match = re.fullmatch(r"\s*-\s+([A-Za-z0-9_.\-]+)\s*([<>=!~].*)?", line)
        if match and not line.strip().startswith("- -e"):
            found[match.group(1).lower()] = (match.group(2) or "").replace(" ", "")
    return found


def test_every_python_package_matches() -> None:
    environment = environment_requirements()
    python_packages = {
        name: floor for name, floor in environment.items() if name not in SERVICE_PACKAGES
    }
    assert python_packages == pyproject_requirements()


def test_services_for_later_layers_are_listed() -> None:
    assert set(environment_requirements()) >= SERVICE_PACKAGES


def test_python_floor_matches() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert environment_requirements()["python"] == project["requires-python"]
