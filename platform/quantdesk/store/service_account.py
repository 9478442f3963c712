"""The unprivileged OS account the embedded server runs as when quantdesk runs as root.

PostgreSQL refuses to run as root. The server runs as a dedicated system
account ``quantdesk``, created on first ``db up``; never as the
distribution's ``postgres``, whose own cluster (and its superusers, who can
read files as that account) would reach our data directory and master key.
Run as an ordinary user, the server runs as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from quantdesk.errors import ConfigurationError

CREATED_ACCOUNT = "quantdesk"
PREFERRED_ACCOUNTS = (CREATED_ACCOUNT,)


@dataclass(frozen=True)
class ServiceAccount:
    """The account the server's processes run as.

    Attributes
    ----------
    name
        The account's login name.
    uid, gid
        Its user and primary group ids.
    switches_user
        True when the caller is root and the programs must drop to this account.
    """

    name: str
    uid: int
    gid: int
    switches_user: bool

    def run(
        self, command: list[str], *, timeout: float = 300, environment: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a program as this account and capture its output.

        Parameters
        ----------
        command
            The program and its arguments.
        timeout
            Seconds before the program is killed.
        environment
            Extra environment variables.

        Returns
        -------
        subprocess.CompletedProcess
            The finished process; the caller checks its return code.
        """
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        env.update(environment or {})
        if self.switches_user:
            return subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd="/",
                user=self.uid,
                group=self.gid,
                extra_groups=[],
            )
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)

    def can_write(self, path: Path) -> bool:
        """Whether this account may create files in ``path`` (every parent must be searchable).

        Parameters
        ----------
        path
            A directory.

        Returns
        -------
        bool
            True when it can.
        """
        return (
            self.run(["test", "-w", str(path), "-a", "-x", str(path)], timeout=30).returncode == 0
        )

    @property
    def owner(self) -> tuple[int, int] | None:
        """``(uid, gid)`` to give files this account must own; None when not switching user."""
        return (self.uid, self.gid) if self.switches_user else None

    def give(self, path: Path) -> None:
        """Make this account own ``path`` (only needed, and only done, when switching user).

        Parameters
        ----------
        path
            A file or directory.
        """
        if self.switches_user:
            os.chown(path, self.uid, self.gid)


def service_account() -> ServiceAccount:
    """The account to run the server as: the caller, or the dedicated one for root.

    Returns
    -------
    ServiceAccount
        The current user, or ``quantdesk`` when running as root (created if missing).

    Raises
    ------
    ConfigurationError
        If running as root and the account neither exists nor can be created.
    """
    existing = existing_service_account()
    return existing if existing is not None else _created_account()


def existing_service_account() -> ServiceAccount | None:
    """The account the server runs as, only looked up: never created (for read-only commands).

    Returns
    -------
    ServiceAccount or None
        The current user, or ``quantdesk`` when running as root; None when
        running as root and that account does not exist yet.
    """
    if os.geteuid() != 0:
        caller = pwd.getpwuid(os.geteuid())
        return ServiceAccount(caller.pw_name, caller.pw_uid, caller.pw_gid, switches_user=False)
    for name in PREFERRED_ACCOUNTS:
        entry = _account(name)
        if entry is not None:
            return ServiceAccount(entry.pw_name, entry.pw_uid, entry.pw_gid, switches_user=True)
    return None


def _account(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _created_account() -> ServiceAccount:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    command = [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    # If it fails, another process may have created the account meanwhile: look again.
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([*command, CREATED_ACCOUNT], capture_output=True, check=True, timeout=60)
    created = _account(CREATED_ACCOUNT)
    if created is None:
        raise ConfigurationError(
            f"PostgreSQL cannot run as root and there is no {CREATED_ACCOUNT!r} account: create "
            f"one with 'useradd --system --no-create-home {CREATED_ACCOUNT}' and retry"
        )
    return ServiceAccount(created.pw_name, created.pw_uid, created.pw_gid, switches_user=True)
