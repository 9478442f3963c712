"""Where the hub keeps its files, and where the repository's hub configuration and kernel are.

Files in ``settings.hub_dir`` (``data_dir/hub``, mode 0700)::

    jupyterhub.sqlite    the hub's database: people, approvals, bcrypt password
                         hashes (NativeAuthenticator), tokens, servers
    cookie-secret        the hub's cookie secret (0600; JupyterHub writes it)
    hub.json             the running hub's pid and address (0600)
    jupyterhub.pid       JupyterHub's own pid file
    proxy.pid            configurable-http-proxy's pid file
    hub.log              the hub's output, the proxy's and the services'
    admin-credentials    the first admin's name and password (0600), written once
    people/NAME/         each person's data directory when not run as root
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from quantdesk.config import Settings
from quantdesk.errors import HubError

PROJECT_ROOT = Path(__file__).resolve().parents[3]
"""The repository: the hub runs from a clone (README, "Set up")."""
CONFIG_FILE = PROJECT_ROOT / "hub_config" / "jupyterhub_config.py"
KERNELS_DIRECTORY = PROJECT_ROOT / "kernels"
KERNEL_NAME = "quantdesk"


@dataclass(frozen=True)
class HubFiles:
    """The paths of one hub's files.

    Parameters
    ----------
    directory
        The hub's directory (``settings.hub_dir``).
    """

    directory: Path

    @classmethod
    def of(cls, settings: Settings) -> HubFiles:
        """The files of the hub ``settings`` describe.

        Parameters
        ----------
        settings
            quantdesk's settings.

        Returns
        -------
        HubFiles
            Paths under ``settings.hub_dir``.
        """
        return cls(settings.hub_dir)

    @property
    def database(self) -> Path:
        """The hub's SQLite database."""
        return self.directory / "jupyterhub.sqlite"

    @property
    def cookie_secret(self) -> Path:
        """The hub's cookie secret."""
        return self.directory / "cookie-secret"

    @property
    def state(self) -> Path:
        """The running hub's pid and address."""
        return self.directory / "hub.json"

    @property
    def hub_pid(self) -> Path:
        """JupyterHub's own pid file."""
        return self.directory / "jupyterhub.pid"

    @property
    def proxy_pid(self) -> Path:
        """The proxy's pid file."""
        return self.directory / "proxy.pid"

    @property
    def log(self) -> Path:
        """The hub's log."""
        return self.directory / "hub.log"

    @property
    def admin_credentials(self) -> Path:
        """The first admin's name and password."""
        return self.directory / "admin-credentials"

    def create(self) -> None:
        """Create the directory, mode 0700, or tighten it to 0700."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)


def config_file() -> Path:
    """The repository's ``hub_config/jupyterhub_config.py``.

    Returns
    -------
    pathlib.Path
        The file.

    Raises
    ------
    HubError
        If quantdesk is not installed from a clone of its repository.
    """
    if not CONFIG_FILE.is_file():
        raise HubError(
            f"the hub configuration {CONFIG_FILE} is missing: run the hub from a clone of the "
            "quantdesk repository, installed with 'bash .ci/bootstrap'"
        )
    return CONFIG_FILE


def proxy_program() -> Path:
    """The npm ``configurable-http-proxy`` that ``.ci/bootstrap`` installs beside this Python.

    Returns
    -------
    pathlib.Path
        The program.

    Raises
    ------
    HubError
        If it is missing.
    """
    program = Path(sys.executable).parent / "configurable-http-proxy"
    if not program.exists():
        raise HubError(
            f"the hub's proxy {program} is missing: run 'bash .ci/bootstrap' to install "
            "configurable-http-proxy (it needs Node.js >= 18 and npm)"
        )
    return program
