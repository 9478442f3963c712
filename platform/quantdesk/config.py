"""quantdesk's settings: one typed, frozen object, passed explicitly.

Settings come from, in order of precedence: keyword arguments,
``QUANTDESK_*`` environment variables, the TOML file named by
``QUANTDESK_CONFIG_FILE`` (its keys at the top level or under
``[quantdesk]``), then defaults. Unknown keys are refused everywhere, with the
close match named. The object pickles, so it travels to Dask workers as an
argument rather than through a global.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from quantdesk.errors import ConfigurationError

ENVIRONMENT_PREFIX = "QUANTDESK_"
CONFIG_FILE_VARIABLE = f"{ENVIRONMENT_PREFIX}CONFIG_FILE"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ROOT_DATABASE_DIR = Path("/var/lib/quantdesk/postgres")
DEFAULT_STATEMENT_TIMEOUT_SECONDS = 300.0
DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS = 600.0
DEFAULT_LOCK_TIMEOUT_SECONDS = 60.0
DEFAULT_MIGRATION_LOCK_TIMEOUT_SECONDS = 10.0
"""The defaults of the database timeouts; :mod:`quantdesk.store.session_limits` says why."""
DEFAULT_USER_CONNECTION_LIMIT = 10
"""Sessions a user may hold at once: enough for a kernel, a dashboard and a few workers."""
MAXIMUM_TIMEOUT_SECONDS = (2**31 - 1) / 1000
"""PostgreSQL's timeouts are whole milliseconds in a 32-bit integer (about 24.8 days)."""
TimeoutSeconds = Annotated[float, Field(ge=0.001, le=MAXIMUM_TIMEOUT_SECONDS)]
"""A PostgreSQL timeout in seconds: at least a millisecond, at most about 24.8 days, never 0."""
DEFAULT_WATCHDOG_BLOCKING_SECONDS = 30.0
DEFAULT_WATCHDOG_IDLE_IN_TRANSACTION_SECONDS = 600.0
DEFAULT_WATCHDOG_INTERVAL_SECONDS = 5.0
DEFAULT_HUB_PORT = 8080
DEFAULT_HUB_ADMIN = "admin"
DEFAULT_HUB_IDLE_TIMEOUT_SECONDS = 3600.0
Port = Annotated[int, Field(ge=1, le=65535)]


def default_data_dir() -> Path:
    """Return the per-user directory quantdesk writes under by default.

    Returns
    -------
    pathlib.Path
        The platform's user data directory for ``quantdesk``.
    """
    return Path(platformdirs.user_data_dir("quantdesk", appauthor=False))


class Settings(BaseSettings):
    """Everything quantdesk can be configured with.

    Build it with :meth:`load` for one-line errors, or call ``Settings()``
    directly. Fields:

    - ``data_dir``: root of quantdesk's files for this user.
    - ``cache_dir``: where market data is cached as Parquet; ``data_dir/cache``
      when unset (see :attr:`resolved_cache_dir`).
    - ``default_timeframe``: the timeframe used when a call names none.
    - ``log_level``: the level of quantdesk's loggers.
    - ``database_url``: the user's PostgreSQL URL (``QUANTDESK_DATABASE_URL``);
      when unset, the credentials ``quantdesk up`` wrote for the local user.
    - ``admin_database_url``: the manager role's URL of an external server
      (``QUANTDESK_ADMIN_DATABASE_URL``); when unset, the embedded server is used.
    - ``database_dir``: where the embedded server keeps its files (see
      :attr:`resolved_database_dir`).
    - ``postgres_bin_dir``: the directory with PostgreSQL's ``initdb`` and
      ``pg_ctl`` for the embedded server; searched for when unset.
    - ``user_statement_timeout_seconds``, ``user_idle_in_transaction_timeout_seconds``,
      ``user_lock_timeout_seconds``: the limits every user's role gets (see
      :mod:`quantdesk.store.session_limits`); applied by ``users add`` and ``users rotate``.
    - ``user_connection_limit``: how many sessions a new user's role may hold
      at once (``users add`` and ``quantdesk up``), so no user takes every slot.
    - ``migration_lock_timeout_seconds``: how long a migration's DDL waits for
      a table lock before it fails, naming the sessions that hold it.
    - ``watchdog_blocking_seconds``: the database watchdog ends a user's session
      that has kept another session waiting for a lock this long.
    - ``watchdog_idle_in_transaction_seconds``: it ends a user's session that
      has sat idle inside an open transaction this long.
    - ``watchdog_interval_seconds``: how often the watchdog looks.
    - ``scheduler``: the address of a running Dask scheduler to use
      (``QUANTDESK_SCHEDULER``, e.g. ``tcp://10.0.0.5:8786``); when unset,
      quantdesk uses the cluster ``quantdesk cluster up`` started, or starts a
      local one on demand (see :mod:`quantdesk.compute`).
    - ``scheduler_credentials_file``: the ``tls.json`` of the quantdesk-started
      cluster ``scheduler`` names (``QUANTDESK_SCHEDULER_CREDENTIALS_FILE``);
      such clusters accept only clients that present it.
    - ``gateway``: the address of a Dask gateway (``QUANTDESK_GATEWAY``, e.g.
      ``http://10.0.0.5:8000``), which runs each user's own scheduler and
      workers; when set it wins over ``scheduler``.
    - ``gateway_user``, ``gateway_password``: the gateway credentials
      (``QUANTDESK_GATEWAY_USER``, the OS user name when unset, and
      ``QUANTDESK_GATEWAY_PASSWORD``, a secret).
    - ``cluster_workers``: the local cluster's worker count; one per physical
      core when unset.
    - ``cluster_memory_reserve_bytes``: RAM the local cluster leaves to the rest
      of the machine; ``max(1 GiB, 10 % of RAM)`` when unset.
    - ``hub_port``: where JupyterHub's proxy listens on 127.0.0.1, the address
      people open (``QUANTDESK_HUB_PORT``).
    - ``hub_api_port``, ``hub_proxy_api_port``: the hub's own API and the
      proxy's control API, both on 127.0.0.1; ``hub_port + 1`` and ``+ 2`` when unset.
    - ``hub_gateway_port``: where the hub's Dask gateway service listens on
      127.0.0.1; ``hub_port + 3`` when unset.
    - ``hub_admin``: the name of the hub admin the first ``quantdesk up`` creates.
    - ``hub_idle_timeout_seconds``: the idle culler stops a server nobody used this long.

    URLs and the gateway password are secrets: their repr shows ``**********``.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENVIRONMENT_PREFIX,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    cache_dir: Path | None = None
    default_timeframe: str = "1h"
    log_level: str = "WARNING"
    database_url: SecretStr | None = None
    admin_database_url: SecretStr | None = None
    database_dir: Path | None = None
    postgres_bin_dir: Path | None = None
    user_statement_timeout_seconds: TimeoutSeconds = DEFAULT_STATEMENT_TIMEOUT_SECONDS
    user_idle_in_transaction_timeout_seconds: TimeoutSeconds = (
        DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS
    )
    user_lock_timeout_seconds: TimeoutSeconds = DEFAULT_LOCK_TIMEOUT_SECONDS
    user_connection_limit: int = Field(default=DEFAULT_USER_CONNECTION_LIMIT, ge=1, le=10_000)
    migration_lock_timeout_seconds: TimeoutSeconds = DEFAULT_MIGRATION_LOCK_TIMEOUT_SECONDS
    watchdog_blocking_seconds: float = Field(
        default=DEFAULT_WATCHDOG_BLOCKING_SECONDS, ge=0, allow_inf_nan=False
    )
    watchdog_idle_in_transaction_seconds: float = Field(
        default=DEFAULT_WATCHDOG_IDLE_IN_TRANSACTION_SECONDS, ge=0, allow_inf_nan=False
    )
    watchdog_interval_seconds: float = Field(
        default=DEFAULT_WATCHDOG_INTERVAL_SECONDS, gt=0, allow_inf_nan=False
    )
    gateway: str | None = None
    gateway_user: str | None = None
    gateway_password: SecretStr | None = None
    scheduler: str | None = None
    scheduler_credentials_file: Path | None = None
    cluster_workers: int | None = Field(default=None, ge=1, le=4096)
    cluster_memory_reserve_bytes: int | None = Field(default=None, ge=0)
    hub_port: Port = DEFAULT_HUB_PORT
    hub_api_port: Port | None = None
    hub_proxy_api_port: Port | None = None
    hub_gateway_port: Port | None = None
    hub_admin: str = DEFAULT_HUB_ADMIN
    hub_idle_timeout_seconds: float = Field(
        default=DEFAULT_HUB_IDLE_TIMEOUT_SECONDS, gt=0, allow_inf_nan=False
    )

    @field_validator(
        "data_dir", "cache_dir", "database_dir", "postgres_bin_dir", "scheduler_credentials_file"
    )
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("default_timeframe")
    @classmethod
    def _canonical_timeframe(cls, value: str) -> str:
        from quantdesk.core.timeframe import Timeframe

        return Timeframe.parse(value).text

    @field_validator("scheduler")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        address = value.strip()
        if "://" not in address:
            raise ValueError(f"must be a scheduler address such as tcp://host:8786, not {value!r}")
        return address

    @field_validator("gateway")
    @classmethod
    def _gateway_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        address = value.strip().rstrip("/")
        if not address.startswith(("http://", "https://")):
            raise ValueError(f"must be a gateway address such as http://host:8000, not {value!r}")
        return address

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @property
    def resolved_cache_dir(self) -> Path:
        """The cache directory in use: ``cache_dir`` if set, else ``data_dir/cache``."""
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    @property
    def resolved_database_dir(self) -> Path:
        """The embedded server's directory.

        ``database_dir`` if set; else ``/var/lib/quantdesk/postgres`` when
        running as root (the server then runs as an unprivileged account,
        which cannot enter root's home), else ``data_dir/postgres``.
        """
        if self.database_dir is not None:
            return self.database_dir
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            return ROOT_DATABASE_DIR
        return self.data_dir / "postgres"

    @property
    def compute_dir(self) -> Path:
        """Where ``cluster up`` keeps its state and its workers spill: ``data_dir/compute``."""
        return self.data_dir / "compute"

    @property
    def hub_dir(self) -> Path:
        """Where the hub keeps its database, cookie secret, log and state: ``data_dir/hub``."""
        return self.data_dir / "hub"

    @property
    def resolved_hub_api_port(self) -> int:
        """The hub's API port: ``hub_api_port`` if set, else ``hub_port + 1``."""
        return self.hub_api_port if self.hub_api_port is not None else self.hub_port + 1

    @property
    def resolved_hub_proxy_api_port(self) -> int:
        """The proxy's API port: ``hub_proxy_api_port`` if set, else ``hub_port + 2``."""
        if self.hub_proxy_api_port is not None:
            return self.hub_proxy_api_port
        return self.hub_port + 2

    @property
    def resolved_hub_gateway_port(self) -> int:
        """The hub's Dask gateway port: ``hub_gateway_port`` if set, else ``hub_port + 3``."""
        if self.hub_gateway_port is not None:
            return self.hub_gateway_port
        return self.hub_port + 3

    def environment(self) -> dict[str, str]:
        """These settings as the ``QUANTDESK_*`` variables that recreate them in a child process.

        Only the settings given explicitly (and ``data_dir``) are written;
        secrets are written in plain text, so the result belongs in a child's
        environment, never in a log or on a command line.

        Returns
        -------
        dict
            Variable names and values.
        """
        chosen = set(self.model_fields_set) | {"data_dir"}
        variables: dict[str, str] = {}
        for name in sorted(chosen):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            variables[f"{ENVIRONMENT_PREFIX}{name.upper()}"] = str(value)
        return variables

    @property
    def local_credentials_file(self) -> Path:
        """Where ``quantdesk up`` keeps the local user's database URL (mode 0600)."""
        return self.data_dir / "database-url"

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read the settings, turning any problem into a one-line error.

        Parameters
        ----------
        **overrides
            Settings that win over the environment and the config file.

        Returns
        -------
        Settings
            The frozen settings.

        Raises
        ------
        ConfigurationError
            For an unknown key, a bad value or an unreadable config file.
        """
        try:
            return cls(**overrides)
        except ValidationError as error:
            raise ConfigurationError(_one_line(error)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read keyword arguments, then the environment, then the config file."""
        return (
            init_settings,
            _StrictEnvironmentSource(settings_cls),
            _ConfigFileSource(settings_cls),
        )


class _StrictEnvironmentSource(EnvSettingsSource):
    """The environment source, refusing ``QUANTDESK_*`` variables that name no setting."""

    def __call__(self) -> dict[str, Any]:
        known = {f"{ENVIRONMENT_PREFIX}{name.upper()}" for name in self.settings_cls.model_fields}
        ours = (name for name in os.environ if name.startswith(ENVIRONMENT_PREFIX))
        for variable in ours:
            if variable not in known and variable != CONFIG_FILE_VARIABLE:
                raise ConfigurationError(
                    _unknown_key_message("environment variable", variable, known)
                )
        return super().__call__()


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Settings from the TOML file that ``QUANTDESK_CONFIG_FILE`` names."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: values are read all at once in ``__call__``."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        location = os.environ.get(CONFIG_FILE_VARIABLE)
        if not location:
            return {}
        path = Path(location).expanduser()
        try:
            with path.open("rb") as handle:
                content = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigurationError(
                f"config file {path} does not exist; create it or unset {CONFIG_FILE_VARIABLE}"
            ) from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigurationError(f"config file {path} is not valid TOML: {error}") from None
        section = content.get("quantdesk", content)
        if not isinstance(section, dict):
            raise ConfigurationError(f"config file {path}: 'quantdesk' must be a table")
        known = set(self.settings_cls.model_fields)
        for key in section:
            if key not in known:
                raise ConfigurationError(_unknown_key_message(f"key in {path}", key, known))
        return dict(section)


def _unknown_key_message(origin: str, key: str, known: Iterable[str]) -> str:
    options = sorted(known)
    close = difflib.get_close_matches(key, options, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(options)}"
    return f"unknown {origin} {key!r}; {hint}"


def _one_line(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "settings"
        if item["type"] == "extra_forbidden":
            problems.append(_unknown_key_message("setting", location, Settings.model_fields))
        else:
            problems.append(f"{location}: {item['msg']}")
    return "invalid settings: " + "; ".join(problems)
