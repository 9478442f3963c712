"""A private, migrated PostgreSQL for one benchmark run, deleted afterwards."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from quantdesk.config import Settings
from quantdesk.store.connection import dispose_engines
from quantdesk.store.migrate import migrate
from quantdesk.store.server import EmbeddedPostgres


@dataclass(frozen=True)
class PrivateDatabase:
    """The running server and the scratch directory its data lives in."""

    server: EmbeddedPostgres
    base: Path

    def settings_for(self, database_url: str) -> Settings:
        """Settings that connect with ``database_url`` and keep data in the scratch directory."""
        return Settings.load(data_dir=self.base / "data", database_url=database_url)


@contextmanager
def private_database(prefix: str) -> Iterator[PrivateDatabase]:
    """Start quantdesk's embedded server in a temporary directory, migrated; remove it after."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    server = EmbeddedPostgres(Settings.load(data_dir=base / "data", database_dir=base / "postgres"))
    try:
        server.up()
        migrate(server.admin_url())
        yield PrivateDatabase(server, base)
    finally:
        dispose_engines()
        server.down()
        shutil.rmtree(base, ignore_errors=True)
