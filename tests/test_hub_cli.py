"""``quantdesk hub up``, ``status`` and ``down``, on an external database (the suite's server)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.command_line import run_quantdesk
from tests.hub import free_ports, unique_name
from tests.postgres import SuiteServer


@pytest.fixture
def hub_environment(postgres_server: SuiteServer) -> dict[str, str]:
    """Settings for a second hub of its own, on the suite's database as an external server."""
    hub_port, api_port, proxy_port, gateway_port = free_ports(4)
    url = postgres_server.admin_url.set(drivername="postgresql")
    return {
        "QUANTDESK_ADMIN_DATABASE_URL": url.render_as_string(hide_password=False),
        "QUANTDESK_HUB_PORT": str(hub_port),
        "QUANTDESK_HUB_API_PORT": str(api_port),
        "QUANTDESK_HUB_PROXY_API_PORT": str(proxy_port),
        "QUANTDESK_HUB_GATEWAY_PORT": str(gateway_port),
        "QUANTDESK_HUB_ADMIN": unique_name("admin"),
    }


def test_hub_up_is_idempotent_prints_the_admin_once_and_down_stops_it(
    tmp_path: Path, hub_environment: dict[str, str]
) -> None:
    def quantdesk(*words: str) -> subprocess.CompletedProcess[str]:
        return run_quantdesk(*words, data_dir=tmp_path, extra_environment=hub_environment)

    try:
        first = quantdesk("hub", "up", "--json")
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        admin = report["admin"]
        assert admin["created"] is True
        assert admin["name"] == hub_environment["QUANTDESK_HUB_ADMIN"]
        assert len(admin["password"]) >= 20
        credentials = Path(admin["credentials_file"])
        assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
        assert report["hub"]["url"] == f"http://127.0.0.1:{hub_environment['QUANTDESK_HUB_PORT']}"

        status = json.loads(quantdesk("hub", "status", "--json").stdout)
        assert status["running"] is True
        assert status["healthy"] is True

        again = quantdesk("hub", "up")
        assert again.returncode == 0, again.stderr
        assert admin["password"] not in again.stdout
        assert f"password in {credentials}" in again.stdout
        assert f"pid {report['hub']['pid']}" in again.stdout
        hub_process = psutil.Process(report["hub"]["pid"])
        started = [hub_process, *hub_process.children(recursive=True)]
        commands = " ".join(" ".join(process.cmdline()) for process in started)
        assert "configurable-http-proxy" in commands
        assert "jupyterhub_idle_culler" in commands
        assert "dask_gateway_server" in commands
    finally:
        down = quantdesk("hub", "down")
    _, alive = psutil.wait_procs(started, timeout=30)
    assert alive == []
    assert down.returncode == 0, down.stderr
    assert "hub stopped" in down.stdout
    after = quantdesk("hub", "status")
    assert "not running" in after.stdout
    assert "no hub was running" in quantdesk("hub", "down").stdout


def test_hub_up_on_a_port_in_use_is_one_line(
    tmp_path: Path, hub_environment: dict[str, str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(hub_environment["QUANTDESK_HUB_API_PORT"])))
        taken.listen()
        result = run_quantdesk("hub", "up", data_dir=tmp_path, extra_environment=hub_environment)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "QUANTDESK_HUB_API_PORT" in result.stderr


def test_up_status_down_and_up_again_bring_the_whole_platform_back(
    tmp_path: Path, hub_environment: dict[str, str]
) -> None:
    def quantdesk(*words: str) -> subprocess.CompletedProcess[str]:
        return run_quantdesk(*words, data_dir=tmp_path, extra_environment=hub_environment)

    def parts() -> dict[str, dict[str, object]]:
        reported = quantdesk("status", "--json")
        assert reported.returncode == 0, reported.stderr
        parsed: dict[str, dict[str, object]] = json.loads(reported.stdout)
        return parsed

    def everything_answers() -> bool:
        found = parts()
        return all(found[name]["healthy"] for name in ("database", "hub", "gateway"))

    try:
        first = quantdesk("up", "--json")
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["admin"]["created"] is True
        wait_until(everything_answers)
        found = parts()
        assert found["hub"]["address"] == json.loads(first.stdout)["hub"]["url"]
        gateway_port = hub_environment["QUANTDESK_HUB_GATEWAY_PORT"]
        assert found["gateway"]["address"] == f"http://127.0.0.1:{gateway_port}"
        assert found["database"]["external"] is True
        assert found["cluster"]["state"] == "stopped"
        text = quantdesk("status").stdout
        assert "hub: healthy at http://127.0.0.1:" in text

        down = quantdesk("down")
        assert down.returncode == 0, down.stderr
        assert "hub stopped" in down.stdout
        after = parts()
        assert after["hub"]["state"] == after["gateway"]["state"] == "stopped"
        assert after["database"]["healthy"] is True  # an external server is left running

        again = quantdesk("up", "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["admin"]["created"] is False
        wait_until(everything_answers)
    finally:
        quantdesk("down")


def wait_until(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the platform did not answer in time")
        time.sleep(0.5)
