"""What a person gets from the hub: an OS account (as root), a database role, a connection.

The hub runs :func:`provision_person` when an admin approves a sign-up and
again before every spawn (it is idempotent), as the hub's own process, which
holds the manager's credential. The person's server is handed only
:class:`ServerEnvironment`: their own database URL, where their files go and
the hub's Dask gateway (their kernels reach it with the server's own hub
token, which the gateway checks with the hub), never the manager's URL, the
vault's key or the hub's cookie secret.

As root with the embedded database, the URL has no password at all: it
names the server's Unix socket, and ``peer`` authentication admits the OS
account of the same name only (see
:func:`quantdesk.store.users.allow_peer_login`). Otherwise the person's role
gets a freshly rotated password at each spawn, so a URL seen once stops
working at the next start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import URL

from quantdesk.api.users import add_user, list_users, rotate_user_password
from quantdesk.config import ENVIRONMENT_PREFIX, Settings
from quantdesk.hub.accounts import ensure_person_account, validate_person_name
from quantdesk.hub.services import gateway_address
from quantdesk.store.connection import admin_url
from quantdesk.store.roles import DATABASE
from quantdesk.store.server import EmbeddedPostgres
from quantdesk.store.users import allow_peer_login

DATABASE_URL_VARIABLE = f"{ENVIRONMENT_PREFIX}DATABASE_URL"
DATA_DIR_VARIABLE = f"{ENVIRONMENT_PREFIX}DATA_DIR"
GATEWAY_VARIABLE = f"{ENVIRONMENT_PREFIX}GATEWAY"
PEOPLE_DIRECTORY = "people"
"""Under the hub's directory: each person's data directory when the hub does not run as root."""


@dataclass(frozen=True)
class ServerEnvironment:
    """The variables a person's server starts with; the values stay out of the repr.

    Attributes
    ----------
    variables
        Names and values, e.g. ``QUANTDESK_DATABASE_URL``.
    peer
        True when the database URL relies on peer authentication (no password in it).
    """

    variables: Mapping[str, str] = field(repr=False)
    peer: bool

    def __repr__(self) -> str:
        return f"ServerEnvironment(names={sorted(self.variables)!r}, peer={self.peer})"


def provision_person(
    settings: Settings, name: str, *, isolated: bool, admin: bool = False
) -> ServerEnvironment:
    """Make sure ``name`` has an OS account (when isolated) and a database role; say how to log in.

    Parameters
    ----------
    settings
        The hub's settings (the manager's credential is read through them).
    name
        The person's hub name.
    isolated
        Whether the hub runs as root, giving each person their own OS account.
    admin
        Make a new database role an admin (reads every user's rows); an
        existing role keeps what it has.

    Returns
    -------
    ServerEnvironment
        What the person's server needs.

    Raises
    ------
    InvalidInputError
        If the name cannot be a person's.
    HubError
        If the OS account cannot be made or belongs to someone else.
    StoreError
        If the database refuses.
    """
    validate_person_name(name, isolated=isolated)
    if isolated:
        ensure_person_account(name)
    existing = {user.name for user in list_users(settings)}
    fresh_url: str | None = None
    if name not in existing:
        fresh_url = add_user(name, admin=admin, settings=settings).revealed_url()
    variables = {GATEWAY_VARIABLE: gateway_address(settings)}
    peer = isolated and settings.admin_database_url is None
    if peer:
        allow_peer_login(admin_url(settings), name)
        variables[DATABASE_URL_VARIABLE] = peer_database_url(settings, name)
    else:
        url = fresh_url or rotate_user_password(name, settings=settings).revealed_url()
        variables[DATABASE_URL_VARIABLE] = url
        variables[DATA_DIR_VARIABLE] = str(person_data_dir(settings, name))
    return ServerEnvironment(variables, peer)


def peer_database_url(settings: Settings, name: str) -> str:
    """The password-less URL over the embedded server's Unix socket that ``peer`` admits.

    Parameters
    ----------
    settings
        The settings naming the embedded server.
    name
        The role, which is also the OS account connecting.

    Returns
    -------
    str
        For example ``postgresql://alice@/quantdesk?host=/var/lib/quantdesk/postgres/socket&port=5432``.
    """
    server = EmbeddedPostgres(settings)
    port = server.admin_url().port
    query = {"host": str(server.socket_directory)}
    if port is not None:
        query["port"] = str(port)
    url = URL.create("postgresql", username=name, database=DATABASE, query=query)
    return url.render_as_string(hide_password=False)


def person_data_dir(settings: Settings, name: str) -> Path:
    """A person's quantdesk data directory when the hub does not run as root (mode 0700).

    Parameters
    ----------
    settings
        The hub's settings.
    name
        The person.

    Returns
    -------
    pathlib.Path
        ``hub_dir/people/NAME``, created if missing.
    """
    people = settings.hub_dir / PEOPLE_DIRECTORY
    people.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory = people / name
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory
