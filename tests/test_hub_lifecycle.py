"""Starting, reporting, culling and restarting the hub."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import psutil
import pytest

from quantdesk.config import Settings
from quantdesk.errors import HubError
from quantdesk.hub import hub_status, start_hub, stop_hub
from quantdesk.hub.services import IDLE_CULLER_SCOPES
from tests.hub import (
    Person,
    RunningHub,
    api,
    approved_person,
    start_server,
)

CULL_TIMEOUT_SECONDS = 120.0


def test_a_port_in_use_is_one_line_naming_the_fix(tmp_path: os.PathLike[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings.load(data_dir=tmp_path, hub_port=port)
        with pytest.raises(
            HubError, match=r"^port \d+ on 127.0.0.1 is in use; .*QUANTDESK_HUB_PORT"
        ):
            start_hub(settings)
    assert not (settings.hub_dir / "hub.json").exists()


def test_start_is_idempotent_and_status_reports_health(running_hub: RunningHub) -> None:
    again = start_hub(running_hub.settings)
    status = hub_status(running_hub.settings)
    assert again.pid == running_hub.state.pid
    assert status.running
    assert status.healthy
    assert status.url == running_hub.url


def test_nothing_runs_where_no_hub_was_started(tmp_path: os.PathLike[str]) -> None:
    settings = Settings.load(data_dir=tmp_path)
    assert stop_hub(settings) is None
    assert not hub_status(settings).running


def test_the_idle_culler_runs_as_a_service_with_only_its_scopes(running_hub: RunningHub) -> None:
    hub = psutil.Process(running_hub.state.pid)
    commands = [" ".join(child.cmdline()) for child in hub.children(recursive=True)]
    assert any("jupyterhub_idle_culler" in command for command in commands)
    roles = api(running_hub.url, "GET", "/hub/api/services/idle-culler", running_hub.admin_token)
    assert roles.status_code == 200
    assert roles.json()["roles"] == ["idle-culler"]


def test_the_culler_stops_an_idle_server_with_the_configured_scopes(
    running_hub: RunningHub,
) -> None:
    frank = approved_person(running_hub, "frank")
    start_server(running_hub, frank)
    scopes = [f"{scope}!user={frank.name}" for scope in IDLE_CULLER_SCOPES]
    token = api(
        running_hub.url,
        "POST",
        f"/hub/api/users/{running_hub.admin.name}/tokens",
        running_hub.admin_token,
        {"scopes": scopes, "note": "culler under test", "expires_in": 600},
    ).json()["token"]
    api_url = f"http://127.0.0.1:{running_hub.settings.resolved_hub_api_port}/hub/api"
    culler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--url={api_url}",
            "--timeout=1",
            "--cull-every=1",
        ],
        env={**os.environ, "JUPYTERHUB_API_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + CULL_TIMEOUT_SECONDS
        while frank.api("GET", f"/hub/api/users/{frank.name}").json()["servers"]:
            assert culler.poll() is None, "the culler exited"
            assert time.monotonic() < deadline, "the culler did not stop the idle server"
            time.sleep(0.5)
    finally:
        culler.terminate()
        culler.wait(timeout=30)


def test_a_restart_keeps_people_tokens_and_their_data(
    running_hub: RunningHub, hub_people: tuple[Person, Person]
) -> None:
    alice, bob = hub_people
    alice.execute(
        "import quantdesk\n"
        "bars = quantdesk.load('sample:ETH/USDT', timeframe='1d', start='2024-01-01', "
        "end='2024-03-01')\n"
        "quantdesk.save_run(quantdesk.backtest('sma_cross', bars, fast=3, slow=8), "
        "name='alice-before-restart')"
    )

    assert stop_hub(running_hub.settings) is not None
    assert not hub_status(running_hub.settings).running
    running_hub.state = start_hub(running_hub.settings)

    assert running_hub.browser().log_in(alice.name, alice.password).status_code == 302
    assert alice.api("GET", "/hub/api/user").json()["name"] == alice.name
    for person in (alice, bob):
        start_server(running_hub, person)
    runs = alice.execute("import quantdesk; print([r.name for r in quantdesk.list_runs()])")
    assert "alice-before-restart" in runs
