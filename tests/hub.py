"""The suite's hub: one real JupyterHub for every hub test, on the suite's PostgreSQL.

It is started through :func:`quantdesk.hub.start_hub`, exactly as ``quantdesk up``
starts it, and driven only through its HTTP and websocket APIs, the way a
browser or a client would: forms with their ``_xsrf`` field, tokens, the
Jupyter kernel protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import secrets
import socket
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from quantdesk.compute.gateway_server import closed_directories
from quantdesk.config import Settings
from quantdesk.hub import AdminCredentials, HubState, ensure_hub_admin, start_hub, stop_hub
from quantdesk.store.users import list_users, remove_user
from tests.postgres import SuiteServer

AS_ROOT = os.geteuid() == 0
NOT_ROOT = "one OS account per person needs root; without root the hub does not isolate people"
PASSWORD_LENGTH = 16
SPAWN_TIMEOUT_SECONDS = 120.0
EXECUTE_TIMEOUT_SECONDS = 120.0


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def unique_name(prefix: str) -> str:
    """A person's name no earlier run left behind: ``prefix_`` and six hex digits."""
    return f"{prefix}_{secrets.token_hex(3)}"


def strong_password() -> str:
    """A password NativeAuthenticator's rules accept."""
    return secrets.token_urlsafe(PASSWORD_LENGTH)


@contextlib.contextmanager
def directories_open_to_all() -> Iterator[None]:
    """As root, let every account enter the directories above this Python (e.g. ``/root``)."""
    modes = {parent: os.stat(parent).st_mode for parent in closed_directories()} if AS_ROOT else {}
    for parent, mode in modes.items():
        os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for parent, mode in modes.items():
            os.chmod(parent, stat.S_IMODE(mode))


class Browser:
    """A person's browser on the hub: cookies, the ``_xsrf`` field, no automatic redirects."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def get(self, path: str) -> requests.Response:
        """GET a page as this browser."""
        return self.session.get(f"{self.url}{path}", allow_redirects=False, timeout=60)

    def post_form(self, path: str, fields: dict[str, str]) -> requests.Response:
        """Load the form's page (for the ``_xsrf`` cookie), then submit it."""
        self.get(path)
        data = {**fields, "_xsrf": self.session.cookies.get("_xsrf", "")}
        return self.session.post(f"{self.url}{path}", data=data, allow_redirects=False, timeout=60)

    def sign_up(self, name: str, password: str) -> requests.Response:
        """Fill in ``/hub/signup``."""
        return self.post_form(
            "/hub/signup",
            {
                "username": name,
                "signup_password": password,
                "signup_password_confirmation": password,
            },
        )

    def log_in(self, name: str, password: str) -> requests.Response:
        """Fill in ``/hub/login``; a redirect (302) means logged in."""
        return self.post_form("/hub/login", {"username": name, "password": password})

    def new_token(self, name: str) -> str:
        """Make an API token on the hub's token page's API, as the logged-in person."""
        response = self.session.post(
            f"{self.url}/hub/api/users/{name}/tokens",
            json={"note": "tests"},
            headers={"X-XSRFToken": self.session.cookies.get("_xsrf", "")},
            timeout=60,
        )
        response.raise_for_status()
        return str(response.json()["token"])


def api(
    url: str, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> requests.Response:
    """Call the hub or a server with ``Authorization: token ...``."""
    return requests.request(
        method,
        f"{url}{path}",
        json=body,
        headers={"Authorization": f"token {token}"},
        allow_redirects=False,
        timeout=60,
    )


@dataclass
class RunningHub:
    """The suite's hub, its settings and its first admin (logged in, with a token)."""

    settings: Settings
    state: HubState
    admin: AdminCredentials
    admin_browser: Browser
    admin_token: str
    database: SuiteServer
    names: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where the hub is."""
        return self.state.url

    def browser(self) -> Browser:
        """A fresh browser on the hub."""
        return Browser(self.url)

    def approve(self, name: str) -> requests.Response:
        """The admin, logged in in their browser, approves ``name`` at ``/hub/authorize/NAME``."""
        return self.admin_browser.get(f"/hub/authorize/{name}")

    def remember(self, name: str) -> str:
        """Note a person the tests made, so the hub fixture removes them afterwards."""
        self.names.append(name)
        return name


@dataclass
class Person:
    """An approved, logged-in person with a running server and a quantdesk kernel."""

    name: str
    password: str
    browser: Browser
    token: str
    hub_url: str
    kernel_id: str = ""

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        """Call the hub or a server with this person's token."""
        return api(self.hub_url, method, path, self.token, body)

    def execute(self, code: str) -> str:
        """Run ``code`` in this person's kernel over the websocket; return its output.

        Raises
        ------
        AssertionError
            If the code raised; the message has the traceback's last line.
        """
        return run_in_kernel(self.hub_url, self.name, self.kernel_id, self.token, code)


def run_in_kernel(url: str, name: str, kernel_id: str, token: str, code: str) -> str:
    """Send ``execute_request`` on a kernel's channels websocket and collect its output."""
    return asyncio.run(_execute(url, name, kernel_id, token, code))


async def _execute(url: str, name: str, kernel_id: str, token: str, code: str) -> str:
    websocket_url = url.replace("http://", "ws://", 1)
    address = (
        f"{websocket_url}/user/{name}/api/kernels/{kernel_id}/channels"
        f"?session_id={uuid.uuid4().hex}"
    )
    connection = await websocket_connect(
        HTTPRequest(address, headers={"Authorization": f"token {token}"})
    )
    message_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": message_id,
            "username": name,
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
        },
        "channel": "shell",
        "buffers": [],
    }
    await connection.write_message(json.dumps(request))
    output: list[str] = []
    failure: str | None = None
    deadline = time.monotonic() + EXECUTE_TIMEOUT_SECONDS
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"the kernel did not finish within {EXECUTE_TIMEOUT_SECONDS} s"
                )
            text = await asyncio.wait_for(connection.read_message(), remaining)
            if text is None:
                raise AssertionError("the kernel's websocket closed")
            message = json.loads(text)
            if message.get("parent_header", {}).get("msg_id") != message_id:
                continue
            kind = message["msg_type"]
            if kind == "stream":
                output.append(message["content"]["text"])
            elif kind == "error":
                failure = f"{message['content']['ename']}: {message['content']['evalue']}"
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                break
    finally:
        connection.close()
    if failure is not None:
        raise AssertionError(f"the kernel raised {failure}; output: {''.join(output)}")
    return "".join(output)


def start_server(hub: RunningHub, person: Person) -> None:
    """Start ``person``'s server through the REST API and open a quantdesk kernel on it."""
    response = person.api("POST", f"/hub/api/users/{person.name}/server")
    assert response.status_code in (201, 202), response.text
    deadline = time.monotonic() + SPAWN_TIMEOUT_SECONDS
    while True:
        model = person.api("GET", f"/hub/api/users/{person.name}").json()
        server = model["servers"].get("")
        if server is not None and server["ready"]:
            break
        assert time.monotonic() < deadline, f"{person.name}'s server did not start: {model}"
        time.sleep(0.2)
    kernel = person.api("POST", f"/user/{person.name}/api/kernels", {"name": "quantdesk"})
    assert kernel.status_code == 201, kernel.text
    person.kernel_id = kernel.json()["id"]


def approved_person(hub: RunningHub, prefix: str) -> Person:
    """Sign up through the form, be approved by the admin, log in, and make a token."""
    name = hub.remember(unique_name(prefix))
    password = strong_password()
    browser = hub.browser()
    browser.sign_up(name, password)
    approval = hub.approve(name)
    assert approval.status_code == 302, approval.text
    logged_in = browser.log_in(name, password)
    assert logged_in.status_code == 302, logged_in.text
    return Person(name, password, browser, browser.new_token(name), hub.url)


def started_hub(database: SuiteServer) -> tuple[RunningHub, Path]:
    """Start the suite's hub on fresh ports and sign up its admin.

    Returns
    -------
    tuple
        The hub and the directory to delete afterwards.
    """
    base = Path(tempfile.mkdtemp(prefix="quantdesk-suite-hub-"))
    hub_port, api_port, proxy_port, gateway_port = free_ports(4)
    settings = Settings.load(
        data_dir=base / "data",
        database_dir=database.settings.resolved_database_dir,
        hub_port=hub_port,
        hub_api_port=api_port,
        hub_proxy_api_port=proxy_port,
        hub_gateway_port=gateway_port,
        hub_admin=unique_name("admin"),
    )
    state = start_hub(settings)
    admin = ensure_hub_admin(settings, state)
    browser = Browser(state.url)
    assert browser.log_in(admin.name, admin.password).status_code == 302
    hub = RunningHub(settings, state, admin, browser, browser.new_token(admin.name), database)
    hub.remember(admin.name)
    return hub, base


def stop_started_hub(hub: RunningHub, base: Path) -> None:
    """Stop the hub, then remove every person it made: database roles and OS accounts."""
    stop_hub(hub.settings)
    existing = {user.name for user in list_users(hub.database.admin_url)}
    for name in hub.names:
        if name in existing:
            remove_user(hub.database.admin_url, name, purge=True)
        if AS_ROOT:
            with contextlib.suppress(KeyError):
                pwd.getpwnam(name)
                subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
    subprocess.run(["rm", "-rf", str(base)], check=False)
