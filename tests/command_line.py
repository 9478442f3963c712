"""Running the ``quantdesk`` command as a user would: in this process, or as its own process.

:func:`run_quantdesk` calls the CLI's ``main`` in the test process with the
environment, standard streams, logging and warning hooks a fresh process would
have, then puts them all back; it returns what a process would. Starting
Python again for each call cost most of the CLI tests' time.
:func:`run_quantdesk_process` runs the installed console script, for the few
smoke tests that need a real process (the entry point itself, signals).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path

QUANTDESK = str(Path(sys.executable).parent / "quantdesk")
_FAILURE_EXIT_CODE = 1


def run_quantdesk(
    *words: str, data_dir: Path, extra_environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``quantdesk WORDS...`` in process with its data under ``data_dir``; never raises."""
    from quantdesk.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        _environment({"QUANTDESK_DATA_DIR": str(data_dir), **(extra_environment or {})}),
        _restored_hooks(),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            returncode = main(list(words))
        except SystemExit as leaving:
            code = leaving.code
            returncode = code if isinstance(code, int) else _FAILURE_EXIT_CODE
        except Exception:
            traceback.print_exc()
            returncode = _FAILURE_EXIT_CODE
    return subprocess.CompletedProcess(
        [QUANTDESK, *words], returncode, stdout.getvalue(), stderr.getvalue()
    )


def run_quantdesk_process(
    *words: str, data_dir: Path, extra_environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``quantdesk WORDS...`` as its own process; never raises on failure."""
    environment = {**os.environ, "QUANTDESK_DATA_DIR": str(data_dir), **(extra_environment or {})}
    return subprocess.run(
        [QUANTDESK, *words],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


@contextlib.contextmanager
def _environment(changes: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(changes)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _restored_hooks() -> Iterator[None]:
    """Put back what the CLI sets up for its process: quantdesk's log handlers and warnings."""
    logger = logging.getLogger("quantdesk")
    handlers, level = list(logger.handlers), logger.level
    show, filters = warnings.showwarning, list(warnings.filters)
    try:
        yield
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        warnings.showwarning = show
        warnings.filters[:] = filters
