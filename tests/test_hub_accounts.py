"""Signing up, approval and logging in, through the running hub's own pages, as a browser does."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess

import pytest

from quantdesk.hub.accounts import PEOPLE_GROUP
from tests.hub import AS_ROOT, NOT_ROOT, Person, RunningHub, strong_password, unique_name


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
