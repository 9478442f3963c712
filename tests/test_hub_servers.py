"""Each person's server and kernel, used through the hub's REST and websocket APIs.

The attacks are written as a hostile person would type them in their own
kernel: shell commands and SQL.
"""

from __future__ import annotations

import getpass
import json

import pytest
import requests

from quantdesk.hub.notebooks import NOTEBOOKS_DIRECTORY
from quantdesk.store.server import EmbeddedPostgres
from tests.hub import AS_ROOT, NOT_ROOT, Person, RunningHub

BACKTEST = """
import quantdesk
result = quantdesk.backtest(
    "sma_cross", "sample:BTC/USDT", timeframe="4h", start="2024-01-01", end="2024-03-01",
    fast=5, slow=20, lot_size=1e-8,
)
quantdesk.save_run(result, name={label!r})
print(*(run.name for run in quantdesk.list_runs(limit=None)))
"""


def test_each_person_backtests_in_their_kernel_and_sees_only_their_runs(
    hub_people: tuple[Person, Person],
) -> None:
    alice, bob = hub_people

    alice_runs = alice.execute(BACKTEST.format(label="alice-sma"))
    bob_runs = bob.execute(BACKTEST.format(label="bob-sma"))

    assert "alice-sma" in alice_runs.split()
    assert "bob-sma" in bob_runs.split()
    assert all(name.startswith("alice-") for name in alice_runs.split())
    assert all(name.startswith("bob-") for name in bob_runs.split())


def test_the_kernel_is_python_3_quantdesk_and_the_default(
    hub_people: tuple[Person, Person],
) -> None:
    alice, _ = hub_people
    specs = alice.api("GET", f"/user/{alice.name}/api/kernelspecs").json()
    assert specs["default"] == "quantdesk"
    assert specs["kernelspecs"]["quantdesk"]["spec"]["display_name"] == "Python 3 (quantdesk)"
    assert alice.execute("import quantdesk; print(quantdesk.__name__)").strip() == "quantdesk"


def test_bobs_token_is_refused_on_alices_server_and_the_admin_apis(
    hub_people: tuple[Person, Person],
) -> None:
    alice, bob = hub_people
    assert bob.api("GET", f"/user/{alice.name}/api/kernels").status_code in (302, 403)
    assert bob.api("GET", f"/user/{alice.name}/api/contents").status_code in (302, 403)
    assert bob.api("GET", "/hub/api/users").status_code == 403
    assert bob.api("POST", f"/hub/api/users/{alice.name}/tokens").status_code in (403, 404)
    assert bob.api("DELETE", f"/hub/api/users/{alice.name}/server").status_code in (403, 404)
    assert bob.api("GET", "/hub/authorize").status_code == 403
    assert alice.api("GET", f"/user/{alice.name}/api/kernels").status_code == 200


def test_a_server_gets_none_of_the_hubs_secrets(
    running_hub: RunningHub, hub_people: tuple[Person, Person]
) -> None:
    alice, _ = hub_people
    environment = json.loads(alice.execute("import os, json; print(json.dumps(dict(os.environ)))"))
    seen = "\n".join(f"{name}={value}" for name, value in environment.items())
    manager_password = running_hub.database.admin_url.password
    cookie_secret = (running_hub.settings.hub_dir / "cookie-secret").read_text().strip()
    assert manager_password is not None
    assert str(manager_password) not in seen
    assert cookie_secret not in seen
    assert "QUANTDESK_ADMIN_DATABASE_URL" not in environment
    assert "CONFIGPROXY_AUTH_TOKEN" not in environment
    assert environment["JUPYTERHUB_DISABLE_USER_CONFIG"] == "1"


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_a_kernel_logs_in_to_the_database_by_peer_with_no_password(
    hub_people: tuple[Person, Person],
) -> None:
    alice, _ = hub_people
    url = alice.execute("import os; print(os.environ['QUANTDESK_DATABASE_URL'])").strip()
    assert url.startswith(f"postgresql://{alice.name}@/quantdesk?host=")
    assert alice.execute(f"!psql '{url}' -tAc 'SELECT current_user'").strip() == alice.name


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_bob_cannot_read_alices_process_environment(hub_people: tuple[Person, Person]) -> None:
    alice, bob = hub_people
    output = bob.execute(
        f"!for pid in $(pgrep -u {alice.name}); do cat /proc/$pid/environ; echo; done 2>&1"
    )
    assert "Permission denied" in output
    assert "QUANTDESK_DATABASE_URL" not in output
    assert "JUPYTERHUB_API_TOKEN" not in output


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_bob_cannot_read_alices_files(hub_people: tuple[Person, Person]) -> None:
    alice, bob = hub_people
    alice.execute("!echo alices-secret > ~/secret.txt")
    home = alice.execute("import os; print(os.path.expanduser('~'))").strip()

    output = bob.execute(f"!cat {home}/secret.txt 2>&1; ls {home} 2>&1")

    assert "alices-secret" not in output
    assert output.count("Permission denied") == 2


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_bob_cannot_log_in_to_the_database_as_alice(
    running_hub: RunningHub, hub_people: tuple[Person, Person]
) -> None:
    alice, bob = hub_people
    server = EmbeddedPostgres(running_hub.settings)
    port = server.admin_url().port
    socket_directory = server.socket_directory

    output = bob.execute(
        f"!psql 'host={socket_directory} port={port} dbname=quantdesk user={alice.name}' "
        "-tAc 'SELECT current_user' 2>&1; "
        f"psql 'host=127.0.0.1 port={port} dbname=quantdesk user={alice.name} password=x' "
        "-tAc 'SELECT 1' 2>&1"
    )

    assert "Peer authentication failed" in output
    assert "password authentication failed" in output
    assert f"\n{alice.name}\n" not in f"\n{output}\n"


def test_a_kernel_runs_its_work_on_the_persons_own_gateway_cluster(
    running_hub: RunningHub, hub_people: tuple[Person, Person]
) -> None:
    alice, bob = hub_people
    code = (
        "import getpass, quantdesk.api.cluster as cluster\n"
        "client = cluster.get_client()\n"
        "print(client.submit(getpass.getuser, pure=False).result())\n"
        "client.close()"
    )
    worker_account = alice.execute(code).strip()
    assert worker_account == (alice.name if AS_ROOT else getpass.getuser())

    listed = bob.execute(
        "from quantdesk.compute.gateway_client import open_gateway\n"
        "import os\n"
        "with open_gateway(os.environ['QUANTDESK_GATEWAY'], '', '', "
        "hub_token=os.environ['JUPYTERHUB_API_TOKEN']) as gateway:\n"
        "    print(len(gateway.list_clusters()))"
    )
    assert listed.strip() == "0"


def test_the_gateway_refuses_a_token_without_its_scope(
    running_hub: RunningHub, hub_people: tuple[Person, Person]
) -> None:
    alice, _ = hub_people
    narrow = alice.api(
        "POST",
        f"/hub/api/users/{alice.name}/tokens",
        {"scopes": [f"read:users:name!user={alice.name}"], "note": "no gateway scope"},
    ).json()["token"]
    address = f"http://127.0.0.1:{running_hub.settings.resolved_hub_gateway_port}"
    refused = requests.get(
        f"{address}/api/v1/clusters/", headers={"Authorization": f"jupyterhub {narrow}"}, timeout=30
    )
    allowed = requests.get(
        f"{address}/api/v1/clusters/",
        headers={"Authorization": f"jupyterhub {alice.token}"},
        timeout=30,
    )
    assert refused.status_code in (401, 403)
    assert allowed.status_code == 200


def test_each_server_starts_with_its_own_copy_of_the_research_notebooks(
    hub_people: tuple[Person, Person],
) -> None:
    alice, _ = hub_people
    shown = alice.execute(
        "import os, pathlib\n"
        "folder = pathlib.Path.home() / 'quantdesk-notebooks'\n"
        "print(sorted(path.name for path in folder.glob('*.ipynb')))\n"
        "print(all(path.stat().st_uid == os.getuid() for path in folder.iterdir()))\n"
        "print(os.access(folder / '01-quickstart.ipynb', os.W_OK))\n"
    )
    expected = sorted(path.name for path in NOTEBOOKS_DIRECTORY.glob("*.ipynb"))
    assert len(expected) == 6
    assert shown.splitlines() == [str(expected), "True", "True"]
