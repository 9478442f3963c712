"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples() -> None:
    assert python_blocks()


def test_readme_python_examples_run() -> None:
    namespace: dict[str, object] = {}
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    assert len(namespace["bars"]) == 91 * 24  # type: ignore[arg-type]
    assert len(namespace["daily"]) == 91  # type: ignore[arg-type]
