"""The project's standing rules that are not a lint.

ruff, ruff format, mypy and import-linter run as their own steps of
``.ci/run``, before pytest; ``tests/test_import_contracts.py`` shows the
import contracts fail when broken.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_platform_stays_the_standard_library() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()
    result = run_tool(
        sys.executable,
        "-c",
        "import platform, quantdesk; print(platform.system(), quantdesk.__version__)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] in {"Linux", "Darwin", "Windows"}


def test_importing_quantdesk_loads_no_heavy_dependency() -> None:
    heavy = "{'pandas', 'numpy', 'pyarrow', 'numba', 'talib'}"
    probe = f"import sys, quantdesk; print(sorted({heavy} & set(sys.modules)))"
    result = run_tool(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_fixed_top_level_folders_exist_with_a_readme() -> None:
    for folder in ("notebooks", "dashboards", "kernels", "hub_config", "tests", "benchmarks"):
        assert (ROOT / folder / "README.md").is_file(), f"{folder}/README.md is missing"
