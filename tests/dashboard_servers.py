"""The dashboards served for browser tests: one ``panel serve`` per person, as that person.

Each server is a subprocess with the person's own environment (their
database URL, data directory and cluster), the way a person's server behind
the hub runs them; nothing secret is put on its command line.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "dashboards"
APPS = ("overview", "backtests", "sweeps", "predictions", "keys", "system")
STARTUP_SECONDS = 120.0
CHROMIUM = os.environ.get("QUANTDESK_CHROMIUM", "/usr/bin/chromium")
"""Debian's Chromium, which Playwright drives; no browser is ever downloaded."""


@dataclass
class DashboardServer:
    """A running ``panel serve`` of every dashboard."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """The server's root URL."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server (and wait for it)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_dashboards(environment: dict[str, str], log_path: Path) -> DashboardServer:
    """Serve every app of ``dashboards/`` with ``environment`` and wait until it answers.

    Parameters
    ----------
    environment
        The ``QUANTDESK_*`` variables of the person it serves.
    log_path
        Where the server's output goes.

    Returns
    -------
    DashboardServer
        Serving on a free port of 127.0.0.1.
    """
    port = free_port()
    panel = Path(sys.executable).parent / "panel"
    command = [
        str(panel),
        "serve",
        *(str(DASHBOARDS / f"{app}.py") for app in APPS),
        "--address",
        "127.0.0.1",
        "--port",
        str(port),
        "--allow-websocket-origin",
        f"127.0.0.1:{port}",
        "--num-procs",
        "1",
    ]
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env={**base, **environment},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = DashboardServer(process, port, log_path)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"panel serve exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/overview", timeout=5):
                return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"panel serve did not answer in {STARTUP_SECONDS} s:\n{server.log()}")


def chromium_available() -> bool:
    """Whether Debian's Chromium is installed (``bash .ci/bootstrap dev`` installs it)."""
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()
