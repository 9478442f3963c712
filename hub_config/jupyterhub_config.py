"""quantdesk's JupyterHub: one server per person, each reaching the database as that person.

Run it with ``quantdesk up`` (or ``quantdesk.hub.start_hub``), which starts
``python -m jupyterhub -f hub_config/jupyterhub_config.py`` with quantdesk's
settings in its environment. Nothing here is a port, a path or a secret: those
come from quantdesk's settings (``QUANTDESK_*`` variables or the config file),
and the logic behind each setting lives in the library package ``quantdesk.hub``.
"""

# ruff: noqa: F821  (JupyterHub runs this file with ``get_config`` defined)

from __future__ import annotations

import sys
from pathlib import Path

from quantdesk.config import Settings
from quantdesk.hub.authenticator import QuantdeskAuthenticator
from quantdesk.hub.files import HubFiles, proxy_program
from quantdesk.hub.services import (
    SERVER_TOKEN_SCOPES,
    dask_gateway_service,
    idle_culler_role,
    idle_culler_service,
    user_role,
)
from quantdesk.hub.spawning import pre_spawn_hook, runs_as_root, spawner_class

c = get_config()
settings = Settings.load()
files = HubFiles.of(settings)
# As root, every person gets an OS account of their own name; that is what
# keeps one person's processes and files from another's.
isolated = runs_as_root()

# --- Network -----------------------------------------------------------------
# People reach the hub through configurable-http-proxy on 127.0.0.1 only. To
# serve beyond this machine, put TLS in front (a reverse proxy such as nginx or
# Caddy with a certificate, or c.JupyterHub.ssl_cert / ssl_key): passwords and
# cookies must never cross a network in clear text.
c.JupyterHub.bind_url = f"http://127.0.0.1:{settings.hub_port}"
# The hub's own API, which the proxy, the services and every person's server call.
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.resolved_hub_api_port}"
# The proxy is npm's configurable-http-proxy, which .ci/bootstrap installs beside
# this Python (its PyPI port breaks Bokeh's websockets, so Panel dashboards fail).
c.ConfigurableHTTPProxy.command = [str(proxy_program())]
# Its control API; JupyterHub gives it a random token at each start.
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.resolved_hub_proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = str(files.proxy_pid)

# --- The hub's own state -----------------------------------------------------
# People, approvals, password hashes, tokens and servers: kept across restarts.
c.JupyterHub.db_url = f"sqlite:///{files.database}"
# Signs the login cookies; JupyterHub creates it with mode 0600 on first start.
c.JupyterHub.cookie_secret_file = str(files.cookie_secret)
c.JupyterHub.pid_file = str(files.hub_pid)
# `quantdesk down` stops the hub, and with it every server, the proxy and the services.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- Who may log in ----------------------------------------------------------
# People sign up at /hub/signup; the hub keeps a bcrypt hash of their password.
c.JupyterHub.authenticator_class = QuantdeskAuthenticator
# Names must also be valid database roles and, as root, OS account names.
c.QuantdeskAuthenticator.isolated = isolated
# A sign-up is inert until an admin approves it at /hub/authorize.
c.NativeAuthenticator.open_signup = False
# Refuse the passwords found in NativeAuthenticator's list of common ones...
c.NativeAuthenticator.check_common_password = True
# ...and short ones.
c.NativeAuthenticator.minimum_password_length = 10
# Five wrong passwords in a row lock that name out for ten minutes.
c.NativeAuthenticator.allowed_failed_logins = 5
c.NativeAuthenticator.seconds_before_next_try = 600
# JupyterHub 5 lets nobody in unless told whom: every person NativeAuthenticator
# lets through, which is only people an admin approved (their approval is
# checked on every login, before this).
c.Authenticator.allow_all = True
# The first admin, whom `quantdesk up` signs up; NativeAuthenticator approves
# admins on sign-up. Admins approve everyone else.
c.Authenticator.admin_users = {settings.hub_admin}

# --- Each person's server ------------------------------------------------------
# As root LocalProcessSpawner runs each server as the person's OS account; not as
# root SimpleLocalProcessSpawner runs every server as the hub's own account,
# which does NOT isolate people from each other (one person trying it out only).
c.JupyterHub.spawner_class = spawner_class(isolated=isolated)
c.SimpleLocalProcessSpawner.home_dir_template = str(files.directory / "people" / "{username}")
# This environment's single-user server, by absolute path: not whatever is on PATH.
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
# New notebooks get the "Python 3 (quantdesk)" kernel (kernels/quantdesk). Two
# server extensions are off: Panel's (it imports Panel and Bokeh, about half of a
# server's start-up; dashboards are served by the platform, not inside each
# server) and the language-server bridge (no language server is installed).
c.Spawner.args = [
    "--MappingKernelManager.default_kernel_name=quantdesk",
    '--ServerApp.jpserver_extensions={"panel.io.jupyter_server_extension": False, '
    '"jupyter_lsp": False}',
]
# A person's own ~/.jupyter config must not change how their server talks to the hub.
c.Spawner.disable_user_config = True
# The hub's environment carries quantdesk's settings, the manager's credential
# among them; a server inherits only these, plus what the pre-spawn hook gives it.
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "TZ"]
# Before each start: the person's OS account (as root) and database role exist,
# and the server gets its own database connection (peer authentication over the
# Unix socket as root, else a freshly rotated password) and nothing of the hub's.
c.Spawner.pre_spawn_hook = pre_spawn_hook(settings, isolated=isolated)
# The token a server holds (JUPYTERHUB_API_TOKEN, which its kernels see) may do
# only this (quantdesk.hub.services.SERVER_TOKEN_SCOPES):
#   users:activity!user                     report activity, which the culler reads
#   access:servers!server                   check that a visitor may use this server
#   access:services!service=dask-gateway    reach the person's own Dask clusters
c.Spawner.server_token_scopes = sorted(SERVER_TOKEN_SCOPES)
# The first start of a server imports JupyterLab; give a loaded machine time.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# --- Services and their scopes -------------------------------------------------
# Services start with none of the hub's QUANTDESK_* settings (JupyterHub passes a
# service only PATH, the locale and its own hub token), so neither holds the
# manager's credential.
#
# jupyterhub-idle-culler stops servers idle for `hub_idle_timeout_seconds`, so
# forgotten kernels give their memory back. Its role's scopes, and why
# (quantdesk.hub.services.IDLE_CULLER_SCOPES):
#   list:users           to find the people who have servers
#   read:users:activity  to see when each person was last active
#   read:servers         to see each server's own last activity
#   delete:servers       to stop a server that sat idle too long
#
# The Dask gateway runs each person's scheduler and workers (as root: as their OS
# account) on 127.0.0.1 at `hub_gateway_port`. It needs no role: it asks the hub
# who holds a token, and accepts only tokens with
# access:services!service=dask-gateway.
c.JupyterHub.services = [
    idle_culler_service(settings.hub_idle_timeout_seconds),
    dask_gateway_service(settings),
]
# JupyterHub's `user` role, with the gateway scope added
# (quantdesk.hub.services.USER_SCOPES):
#   self                                    manage their own server and tokens
#   access:services!service=dask-gateway    start and use their own Dask clusters
c.JupyterHub.load_roles = [idle_culler_role(), user_role()]
