"""Running the installed ``quantdesk`` console script as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

QUANTDESK = str(Path(sys.executable).parent / "quantdesk")


def run_quantdesk(
    *words: str, data_dir: Path, extra_environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``quantdesk WORDS...`` with its data under ``data_dir``; never raises on failure."""
    environment = {**os.environ, "QUANTDESK_DATA_DIR": str(data_dir), **(extra_environment or {})}
    return subprocess.run(
        [QUANTDESK, *words],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
