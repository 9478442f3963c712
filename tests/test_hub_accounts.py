"""Signing up, approval and logging in, through the running hub's own pages, as a browser does."""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from quantdesk.hub.accounts import PEOPLE_GROUP
from quantdesk.store.users import list_users
from tests.command_line import run_quantdesk
from tests.hub import AS_ROOT, NOT_ROOT, Person, RunningHub, api, strong_password, unique_name


def test_a_sign_up_logs_in_only_after_an_admin_approves_it(running_hub: RunningHub) -> None:
    name = running_hub.remember(unique_name("dave"))
    password = strong_password()
    browser = running_hub.browser()

    signed_up = browser.sign_up(name, password)
    assert signed_up.status_code == 200
    refused = browser.log_in(name, password)
    assert refused.status_code == 200
    assert "has not been authorized" in refused.text
    assert browser.get("/hub/api/user").status_code == 403

    assert running_hub.approve(name).status_code == 302
    logged_in = browser.log_in(name, password)
    assert logged_in.status_code == 302
    whoami = browser.get("/hub/api/user")
    assert whoami.status_code == 200
    assert whoami.json()["name"] == name


def test_wrong_passwords_lock_the_name_out(running_hub: RunningHub) -> None:
    name = running_hub.remember(unique_name("carol"))
    password = strong_password()
    browser = running_hub.browser()
    browser.sign_up(name, password)
    running_hub.approve(name)

    for _ in range(5):
        assert browser.log_in(name, "not-" + password).status_code == 200
    locked = browser.log_in(name, password)
    assert locked.status_code == 200
    assert "Invalid username or password" in locked.text


@pytest.mark.parametrize("password", ["password123", "short1"])
def test_weak_passwords_are_refused_at_sign_up(running_hub: RunningHub, password: str) -> None:
    name = running_hub.remember(unique_name("weak"))
    browser = running_hub.browser()
    browser.sign_up(name, password)
    running_hub.approve(name)
    assert browser.log_in(name, password).status_code == 200


@pytest.mark.parametrize("name", ["postgres", "Alice", "quantdesk_x", "a" * 49, "eve;drop"])
def test_names_that_cannot_be_a_database_role_are_refused(
    running_hub: RunningHub, name: str
) -> None:
    password = strong_password()
    browser = running_hub.browser()
    browser.sign_up(name, password)
    running_hub.approve(name)
    assert browser.log_in(name, password).status_code == 200
    listed = running_hub.admin_browser.get("/hub/authorize")
    assert f">{name}<" not in listed.text


def test_a_person_cannot_approve_anyone(
    running_hub: RunningHub, hub_people: tuple[Person, Person]
) -> None:
    _, bob = hub_people
    name = running_hub.remember(unique_name("mallory"))
    password = strong_password()
    running_hub.browser().sign_up(name, password)

    assert bob.browser.get(f"/hub/authorize/{name}").status_code == 403
    assert bob.api("GET", f"/hub/authorize/{name}").status_code == 403
    assert running_hub.browser().log_in(name, password).status_code == 200


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_approval_makes_the_persons_os_account_with_a_private_home(
    running_hub: RunningHub,
) -> None:
    name = running_hub.remember(unique_name("erin"))
    running_hub.browser().sign_up(name, strong_password())
    with pytest.raises(KeyError):
        pwd.getpwnam(name)

    assert running_hub.approve(name).status_code == 302

    account = pwd.getpwnam(name)
    assert stat.S_IMODE(os.stat(account.pw_dir).st_mode) == 0o700
    assert name in grp.getgrnam(PEOPLE_GROUP).gr_mem


@pytest.mark.skipif(not AS_ROOT, reason=NOT_ROOT)
def test_an_existing_os_account_is_not_taken_over(running_hub: RunningHub) -> None:
    name = running_hub.remember(unique_name("sysacct"))
    subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
    password = strong_password()
    browser = running_hub.browser()
    browser.sign_up(name, password)

    refused = running_hub.approve(name)

    assert refused.status_code == 409
    assert "was not made by quantdesk" in refused.reason
    assert browser.log_in(name, password).status_code == 200
    assert name not in grp.getgrnam(PEOPLE_GROUP).gr_mem


def test_another_sites_page_cannot_make_the_admins_browser_approve(
    running_hub: RunningHub,
) -> None:
    name = running_hub.remember(unique_name("trudy"))
    password = strong_password()
    running_hub.browser().sign_up(name, password)
    forged = running_hub.admin_browser.session.get(
        f"{running_hub.url}/hub/authorize/{name}",
        headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
        allow_redirects=False,
        timeout=60,
    )
    discarded = running_hub.admin_browser.session.get(
        f"{running_hub.url}/hub/discard/{name}",
        headers={"Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
        timeout=60,
    )

    assert forged.status_code == 403
    assert discarded.status_code == 403
    assert running_hub.browser().log_in(name, password).status_code == 200
    clicked = running_hub.admin_browser.session.get(
        f"{running_hub.url}/hub/authorize/{name}",
        headers={"Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
        timeout=60,
    )
    assert clicked.status_code == 302
    assert running_hub.browser().log_in(name, password).status_code == 302


def test_users_add_admin_makes_an_approved_hub_admin_too(running_hub: RunningHub) -> None:
    name = running_hub.remember(unique_name("boss"))
    environment = running_hub.settings.environment()
    result = run_quantdesk(
        "users",
        "add",
        name,
        "--admin",
        "--json",
        data_dir=running_hub.settings.data_dir,
        extra_environment=environment,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["admin"] is True
    password = payload["hub"]["password"]
    assert running_hub.browser().log_in(name, password).status_code == 302
    described = api(running_hub.url, "GET", f"/hub/api/users/{name}", running_hub.admin_token)
    assert described.status_code == 200
    assert described.json()["admin"] is True
    text = run_quantdesk(
        "users", "list", data_dir=running_hub.settings.data_dir, extra_environment=environment
    )
    assert name in text.stdout


def test_users_add_admin_without_a_running_hub_says_it_made_no_hub_account(
    running_hub: RunningHub, tmp_path: Path
) -> None:
    name = running_hub.remember(unique_name("early"))
    environment = {
        **running_hub.settings.environment(),
        "QUANTDESK_DATA_DIR": str(tmp_path),  # a data dir whose hub is not running
    }
    result = run_quantdesk(
        "users", "add", name, "--admin", data_dir=tmp_path, extra_environment=environment
    )
    assert result.returncode == 0, result.stderr
    assert f"no hub is running, so {name} has no hub account yet" in result.stdout
    assert name in {user.name for user in list_users(running_hub.database.admin_url)}


def test_users_add_admin_never_approves_someone_elses_sign_up_of_the_name(
    running_hub: RunningHub,
) -> None:
    # eve signs up first under the name the admin is about to give a colleague.
    name = running_hub.remember(unique_name("chief"))
    eve_password = strong_password()
    running_hub.browser().sign_up(name, eve_password)
    result = run_quantdesk(
        "users",
        "add",
        name,
        "--admin",
        data_dir=running_hub.settings.data_dir,
        extra_environment=running_hub.settings.environment(),
    )
    assert result.returncode == 1
    assert "has signed up on the hub already" in result.stderr
    assert result.stderr.count("\n") == 1
    assert running_hub.browser().log_in(name, eve_password).status_code != 302  # still unapproved
    assert name not in {user.name for user in list_users(running_hub.database.admin_url)}
