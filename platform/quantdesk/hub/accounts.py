"""One OS account per person, made by the platform, when the hub runs as root.

A person's hub name, database role and OS account are the same name. Their
server and kernels run as that account, so the kernel of one person cannot
read another's processes (``/proc/PID/environ``), home directory (mode 0700)
or database login (``peer`` authentication is checked by the kernel of the OS).

Accounts the platform made belong to the group :data:`PEOPLE_GROUP`; an
existing account outside it (``daemon``, a colleague's login) is never taken
over: the hub refuses that name instead.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from quantdesk.errors import HubError, InvalidInputError
from quantdesk.store.users import validate_user_name

PEOPLE_GROUP = "quantdesk-people"
"""The group of the OS accounts the platform made, one a person."""
MAX_ACCOUNT_NAME_LENGTH = 32
"""useradd's limit on an account name."""
HOME_MODE = 0o700
_COMMAND_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class PersonAccount:
    """A person's OS account.

    Attributes
    ----------
    name
        The login name, the same as the hub and database name.
    uid, gid
        Its user and primary group ids.
    home
        Its home directory (mode 0700).
    created
        True when this call made it.
    """

    name: str
    uid: int
    gid: int
    home: Path
    created: bool


def validate_person_name(name: str, *, isolated: bool) -> str:
    """Check that ``name`` can be a person's hub, database and (when isolated) OS account name.

    Parameters
    ----------
    name
        The proposed name.
    isolated
        Whether the hub runs as root and the name becomes an OS account too.

    Returns
    -------
    str
        The name, unchanged.

    Raises
    ------
    InvalidInputError
        If it breaks a rule; the message names the rule.
    """
    validate_user_name(name)
    if isolated and len(name) > MAX_ACCOUNT_NAME_LENGTH:
        raise InvalidInputError(
            f"user name {name!r} is longer than the {MAX_ACCOUNT_NAME_LENGTH} characters an OS "
            "account may have; choose a shorter one"
        )
    return name


def ensure_person_account(name: str) -> PersonAccount:
    """Make ``name``'s OS account (home 0700) unless the platform already made it.

    Parameters
    ----------
    name
        A valid person's name (see :func:`validate_person_name`).

    Returns
    -------
    PersonAccount
        The account.

    Raises
    ------
    HubError
        If not root, if an account of that name exists that the platform did
        not make, or if ``useradd`` fails.
    """
    validate_person_name(name, isolated=True)
    if os.geteuid() != 0:
        raise HubError("only root can make a person's OS account; run the hub as root")
    _ensure_people_group()
    created = False
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        _run(
            [
                "useradd",
                "--create-home",
                "--key",
                f"HOME_MODE={HOME_MODE:04o}",
                "--shell",
                "/bin/bash",
                "--user-group",
                "--groups",
                PEOPLE_GROUP,
                name,
            ],
            f"creating the OS account {name!r}",
        )
        entry = pwd.getpwnam(name)
        created = True
    if not is_person_account(name):
        raise HubError(
            f"the OS account {name!r} exists and was not made by quantdesk; choose another "
            f"name, or (if it is that person's own) add it to the group with "
            f"'usermod --append --groups {PEOPLE_GROUP} {name}'"
        )
    home = Path(entry.pw_dir)
    home.chmod(HOME_MODE)
    return PersonAccount(name, entry.pw_uid, entry.pw_gid, home, created)


def is_person_account(name: str) -> bool:
    """Whether ``name`` is an OS account the platform made (a member of :data:`PEOPLE_GROUP`).

    Parameters
    ----------
    name
        An account name.

    Returns
    -------
    bool
        False for a missing account or one outside the group.
    """
    try:
        return name in grp.getgrnam(PEOPLE_GROUP).gr_mem
    except KeyError:
        return False


def _ensure_people_group() -> None:
    try:
        grp.getgrnam(PEOPLE_GROUP)
    except KeyError:
        _run(["groupadd", "--system", PEOPLE_GROUP], f"creating the group {PEOPLE_GROUP!r}")


def _run(command: list[str], action: str) -> None:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT_SECONDS
        )
    except FileNotFoundError:
        raise HubError(
            f"{action} needs {command[0]!r}; install the 'passwd' package (apt-get install passwd)"
        ) from None
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise HubError(f"{action} failed ({reason[0]}); see 'man {command[0]}'")
