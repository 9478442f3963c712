"""The hub's admins: the first signed up once (password kept in a 0600 file), others added.

The admin's name is ``settings.hub_admin``, listed in the hub's
``admin_users``, which NativeAuthenticator approves on sign-up. The password
is random; it is returned to the caller (``quantdesk up`` prints it) and kept
in ``hub_dir/admin-credentials`` for root, or the account that runs the hub,
to read again. The hub itself stores only its bcrypt hash.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from quantdesk.config import Settings
from quantdesk.errors import HubError
from quantdesk.hub.files import HubFiles
from quantdesk.hub.forms import HubForms
from quantdesk.hub.launcher import HubState
from quantdesk.store.private_file import write_private_text

PASSWORD_BYTES = 18


@dataclass(frozen=True)
class AdminCredentials:
    """The first admin's name and password; the password stays out of the repr.

    Attributes
    ----------
    name
        The admin's hub name.
    password
        Their password.
    created
        True when this call signed them up (the one time to print the password).
    """

    name: str
    password: str = field(repr=False)
    created: bool


def ensure_hub_admin(settings: Settings, hub: HubState) -> AdminCredentials:
    """Sign up the first admin on a running hub unless that was done before.

    Parameters
    ----------
    settings
        quantdesk's settings (``hub_admin``, ``hub_dir``).
    hub
        The running hub (:func:`quantdesk.hub.launcher.start_hub`).

    Returns
    -------
    AdminCredentials
        The admin's name and password, from the file when it exists.

    Raises
    ------
    HubError
        If the name was taken by someone else's sign-up, or the hub refuses it.
    """
    files = HubFiles.of(settings)
    if files.admin_credentials.is_file():
        values = json.loads(files.admin_credentials.read_text())
        return AdminCredentials(str(values["name"]), str(values["password"]), created=False)
    name = settings.hub_admin
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    forms = HubForms(hub.url)
    forms.sign_up(name, password)
    if not forms.log_in(name, password):
        raise HubError(
            f"the hub refused to sign up its admin {name!r} (is the name taken, or not a valid "
            "user name?); set QUANTDESK_HUB_ADMIN to another name and run this again"
        )
    write_private_text(
        files.admin_credentials, json.dumps({"name": name, "password": password}) + "\n"
    )
    return AdminCredentials(name, password, created=True)


def add_hub_admin(settings: Settings, hub: HubState, name: str) -> AdminCredentials:
    """Give ``name`` an approved admin account on a running hub, with a new random password.

    ``name`` signs up through the hub's own form, the first admin approves
    them (which, as root, makes their OS account), they log in once, and the
    first admin makes them an admin.

    Parameters
    ----------
    settings
        quantdesk's settings; the first admin's credentials are under ``hub_dir``.
    hub
        The running hub.
    name
        The new admin, who already has a database user of that name.

    Returns
    -------
    AdminCredentials
        Their name and password, to hand over once.

    Raises
    ------
    HubError
        If the name is taken on the hub or the hub refuses a step.
    """
    first = ensure_hub_admin(settings, hub)
    approver = HubForms(hub.url)
    if not approver.log_in(first.name, first.password):
        raise HubError(
            f"the hub's first admin {first.name!r} could not log in; check "
            f"{HubFiles.of(settings).admin_credentials}"
        )
    # Approving blindly would approve whoever signed up under the name first.
    if approver.signed_up(name):
        raise HubError(
            f"{name!r} has signed up on the hub already; approve or discard that sign-up at "
            f"{hub.url}/hub/authorize, or choose another name"
        )
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    person = HubForms(hub.url)
    person.sign_up(name, password)
    approver.approve(name)
    # The hub keeps a person only from their first log-in on, so log in before promoting.
    if not person.log_in(name, password):
        raise HubError(
            f"the hub did not take the sign-up of {name!r} (is the name taken on the hub?); "
            "choose another name"
        )
    approver.make_admin(name)
    return AdminCredentials(name, password, created=True)
