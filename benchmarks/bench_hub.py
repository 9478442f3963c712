"""Hub load: 20 people log in and start their servers at once.

Run ``.venv/bin/python benchmarks/bench_hub.py`` (as root, as the hub runs in
production: each person gets an OS account). It creates a private embedded
database and hub in a temporary directory, signs up and approves
:data:`PEOPLE` people through the hub's own forms, then has them all log in
and start their servers at the same moment, one thread each, and measures

- spawn time: from a person's ``POST /hub/api/users/NAME/server`` to the hub
  reporting the server ready, p50 and p95 (the goal is p95 <= 10 s);
- memory per server: the proportional set size (PSS) of each person's
  ``jupyterhub-singleuser`` process, median, with no kernel open.

Afterwards it stops the hub and the database and removes the accounts.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

from quantdesk.api.database import start_database, stop_database
from quantdesk.compute.gateway_server import closed_directories
from quantdesk.config import Settings
from quantdesk.hub import ensure_hub_admin, start_hub, stop_hub

PEOPLE = 20
SPAWN_TIMEOUT_SECONDS = 300.0
MIB = 1024**2


def _log_in(url: str, name: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/hub/login", timeout=60)
    fields = {"username": name, "password": password, "_xsrf": session.cookies["_xsrf"]}
    answer = session.post(f"{url}/hub/login", data=fields, allow_redirects=False, timeout=60)
    if answer.status_code != 302:
        raise SystemExit(f"{name} could not log in (HTTP {answer.status_code})")
    return session


def _token(url: str, session: requests.Session, name: str) -> str:
    answer = session.post(
        f"{url}/hub/api/users/{name}/tokens",
        json={"note": "bench"},
        headers={"X-XSRFToken": session.cookies["_xsrf"]},
        timeout=60,
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def _sign_up(url: str, name: str, password: str) -> None:
    session = requests.Session()
    session.get(f"{url}/hub/signup", timeout=60)
    session.post(
        f"{url}/hub/signup",
        data={
            "username": name,
            "signup_password": password,
            "signup_password_confirmation": password,
            "_xsrf": session.cookies["_xsrf"],
        },
        timeout=60,
    )


def _spawn(
    url: str, name: str, password: str, start: threading.Barrier, out: dict[str, float]
) -> None:
    session = _log_in(url, name, password)
    headers = {"Authorization": f"token {_token(url, session, name)}"}
    start.wait()
    began = time.monotonic()
    requests.post(f"{url}/hub/api/users/{name}/server", headers=headers, timeout=120)
    deadline = began + SPAWN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        model = requests.get(f"{url}/hub/api/users/{name}", headers=headers, timeout=60).json()
        server = model["servers"].get("")
        if server is not None and server["ready"]:
            out[name] = time.monotonic() - began
            return
        time.sleep(0.1)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    """Run the load test and print its results."""
    base = Path(tempfile.mkdtemp(prefix="quantdesk-bench-hub-"))
    base.chmod(0o755)
    settings = Settings.load(data_dir=base / "data", database_dir=base / "postgres", hub_port=18900)
    modes = {parent: os.stat(parent).st_mode for parent in closed_directories()}
    for parent, mode in modes.items():
        os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
    names = [f"load_{index:02d}_{secrets.token_hex(2)}" for index in range(PEOPLE)]
    passwords = {name: secrets.token_urlsafe(16) for name in names}
    try:
        start_database(settings)
        hub = start_hub(settings)
        admin = ensure_hub_admin(settings, hub)
        names.append(admin.name)
        admin_session = _log_in(hub.url, admin.name, admin.password)
        for name in names[:PEOPLE]:
            _sign_up(hub.url, name, passwords[name])
            approval = admin_session.get(
                f"{hub.url}/hub/authorize/{name}", allow_redirects=False, timeout=120
            )
            if approval.status_code != 302:
                raise SystemExit(f"approving {name} failed (HTTP {approval.status_code})")
        barrier = threading.Barrier(PEOPLE)
        spawn_seconds: dict[str, float] = {}
        threads = [
            threading.Thread(
                target=_spawn, args=(hub.url, name, passwords[name], barrier, spawn_seconds)
            )
            for name in names[:PEOPLE]
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        servers = [
            child
            for child in psutil.Process(hub.pid).children(recursive=True)
            if any("jupyterhub-singleuser" in part for part in child.cmdline())
        ]
        memory = [server.memory_full_info().pss / MIB for server in servers]
        times = list(spawn_seconds.values())
        print(f"people: {PEOPLE}; servers ready: {len(times)}; host cores: {os.cpu_count()}")
        if times:
            print(
                f"spawn time: p50 {statistics.median(times):.1f} s, "
                f"p95 {_percentile(times, 0.95):.1f} s, max {max(times):.1f} s"
            )
        if memory:
            print(f"memory per server (PSS): median {statistics.median(memory):.0f} MiB")
    finally:
        with contextlib.suppress(Exception):
            stop_hub(settings)
        with contextlib.suppress(Exception):
            stop_database(settings)
        for name in names:
            with contextlib.suppress(KeyError):
                pwd.getpwnam(name)
                subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
        for parent, mode in modes.items():
            os.chmod(parent, stat.S_IMODE(mode))
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
