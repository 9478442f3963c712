"""The suite's PostgreSQL server, started through quantdesk's own embedded-server manager."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import URL

from quantdesk.config import Settings
from quantdesk.store.connection import dispose_engines
from quantdesk.store.migrate import migrate
from quantdesk.store.server import EmbeddedPostgres
from quantdesk.store.users import add_user, list_users, remove_user


@dataclass
class SuiteServer:
    """The embedded server one test session runs, migrated to the newest revision.

    Attributes
    ----------
    settings
        Settings whose ``database_dir`` is the server's directory.
    admin_url, superuser_url
        The manager role's and the bootstrap superuser's URLs.
    log_path
        The server's log file.
    """

    settings: Settings
    server: EmbeddedPostgres
    admin_url: URL = field(init=False)
    superuser_url: URL = field(init=False)

    def __post_init__(self) -> None:
        self.admin_url = self.server.admin_url()
        self.superuser_url = self.server.superuser_url()

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.server.log_path

    def restart(self, *, mode: str = "fast") -> None:
        """Restart the server (``mode="immediate"`` is a crash) and drop pooled connections."""
        self.server.restart(mode=mode)
        dispose_engines()

    def stop(self) -> None:
        """Stop the server; :meth:`start` brings it back."""
        self.server.down()
        dispose_engines()

    def start(self) -> None:
        """Start the server again after :meth:`stop`."""
        self.server.up()


@dataclass(frozen=True)
class DatabaseUser:
    """A login role a test created, with settings that connect as it."""

    name: str
    url: URL
    admin: bool
    settings: Settings


def started_server(*, target: str = "head") -> tuple[SuiteServer, Path]:
    """Create, start and migrate a server in a fresh directory the server's account can enter.

    Parameters
    ----------
    target
        The revision to migrate to; the newest by default.

    Returns
    -------
    tuple
        The server and the directory to delete afterwards.
    """
    base = Path(tempfile.mkdtemp(prefix="quantdesk-suite-postgres-"))
    base.chmod(0o755)
    settings = Settings.load(data_dir=base / "data", database_dir=base / "postgres")
    server = EmbeddedPostgres(settings)
    server.up()
    suite_server = SuiteServer(settings=settings, server=server)
    migrate(suite_server.admin_url, target=target)
    return suite_server, base


def stop_server(server: SuiteServer, base: Path) -> None:
    """Stop the suite's server and delete its files."""
    dispose_engines()
    server.server.down()
    shutil.rmtree(base, ignore_errors=True)


def user_factory(server: SuiteServer, data_dir: Path) -> Iterator[Callable[..., DatabaseUser]]:
    """Yield a function creating uniquely named users; they are purged afterwards.

    Parameters
    ----------
    server
        The suite's server.
    data_dir
        A directory for the users' settings.
    """
    created: list[str] = []

    def create(prefix: str, admin: bool = False) -> DatabaseUser:
        name = f"{prefix}_{secrets.token_hex(4)}"
        credentials = add_user(server.admin_url, name, admin=admin)
        created.append(name)
        settings = Settings.load(
            data_dir=data_dir / name,
            database_url=credentials.revealed_url(),
        )
        return DatabaseUser(name, credentials.database_url, admin, settings)

    yield create
    existing = {user.name for user in list_users(server.admin_url)}
    for name in created:
        if name in existing:
            remove_user(server.admin_url, name, purge=True)
