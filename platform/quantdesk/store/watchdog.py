"""The database watchdog: bounds the damage one user with a SQL prompt can do to the others.

Every user may lock a table they can update (``LOCK TABLE quantdesk.runs IN
ACCESS EXCLUSIVE MODE``) and sit on it inside an open transaction, and may
switch off their own ``idle_in_transaction_session_timeout``. A sweep, run
as the manager, therefore:

- ends each user session that has kept another session waiting for a lock
  longer than :attr:`WatchdogLimits.blocking_seconds` (only the head of a
  chain: a session that is itself waiting for a lock is a victim, not a cause);
- ends each user session idle inside a transaction longer than
  :attr:`WatchdogLimits.idle_in_transaction_seconds`;
- re-applies the platform's settings to every user role that gave itself
  others (:func:`quantdesk.store.users.reset_drifted_role_settings`).

Users are the direct members of ``quantdesk_users``, matched by role oid;
the manager, superusers and quantdesk's own roles are never touched. Times
are measured by the server's clock. Each ending is logged with the role, the
process id, what it blocked and for how long; never a query text.

:func:`watch` repeats the sweep; :class:`BackgroundWatchdog` runs it as a
process beside the embedded server (``quantdesk db up`` starts it, ``db
down`` stops it).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy import URL, Connection, text
from sqlalchemy.exc import DBAPIError

from quantdesk.config import (
    DEFAULT_WATCHDOG_BLOCKING_SECONDS,
    DEFAULT_WATCHDOG_IDLE_IN_TRANSACTION_SECONDS,
    ENVIRONMENT_PREFIX,
    Settings,
)
from quantdesk.errors import ConfigurationError, DatabaseUnavailableError, InvalidInputError
from quantdesk.store.connection import engine_for, translated_errors
from quantdesk.store.roles import MANAGER_ROLE
from quantdesk.store.session_limits import SessionLimits
from quantdesk.store.users import USER_ROLE_OIDS, end_sessions_where, reset_drifted_role_settings

logger = logging.getLogger(__name__)

BLOCKING = "blocking"
IDLE_IN_TRANSACTION = "idle_in_transaction"
_INSUFFICIENT_PRIVILEGE = "42501"
_STOP_TIMEOUT_SECONDS = 10.0
_STOP_POLL_SECONDS = 0.05
BACKGROUND_FLAG = "--background"
"""Marks the watchdog process :class:`BackgroundWatchdog` starts (and recognises by it)."""


@dataclass(frozen=True, kw_only=True)
class WatchdogLimits:
    """How long a user session may hold others up before the watchdog ends it.

    Attributes
    ----------
    blocking_seconds
        A user session that has kept another session waiting for a lock this
        long is ended; 0 ends any blocker at once.
    idle_in_transaction_seconds
        A user session idle inside an open transaction this long is ended.
    session_limits
        The timeouts every user role carries, put back on a role that changed them.

    Raises
    ------
    InvalidInputError
        If a limit is not a finite number of seconds >= 0.
    """

    blocking_seconds: float = DEFAULT_WATCHDOG_BLOCKING_SECONDS
    idle_in_transaction_seconds: float = DEFAULT_WATCHDOG_IDLE_IN_TRANSACTION_SECONDS
    session_limits: SessionLimits = field(default_factory=SessionLimits)

    def __post_init__(self) -> None:
        for name in ("blocking_seconds", "idle_in_transaction_seconds"):
            value = getattr(self, name)
            valid = isinstance(value, int | float) and not isinstance(value, bool)
            if not valid or not math.isfinite(value) or value < 0:
                raise InvalidInputError(
                    f"watchdog {name} must be a number of seconds >= 0, not {value!r}; "
                    f"set QUANTDESK_WATCHDOG_{name.upper()} or pass e.g. {name}=30"
                )

    @classmethod
    def from_settings(cls, settings: Settings) -> WatchdogLimits:
        """The limits the settings ask for.

        Parameters
        ----------
        settings
            The settings in effect (``watchdog_*_seconds``).

        Returns
        -------
        WatchdogLimits
            The limits.
        """
        return cls(
            blocking_seconds=settings.watchdog_blocking_seconds,
            idle_in_transaction_seconds=settings.watchdog_idle_in_transaction_seconds,
            session_limits=SessionLimits.from_settings(settings),
        )


@dataclass(frozen=True)
class BlockedSession:
    """A session kept waiting for a lock.

    Attributes
    ----------
    role
        Its login role, or None for a server process without one.
    pid
        Its process id.
    waited_seconds
        How long it had been waiting, by the server's clock.
    """

    role: str | None
    pid: int
    waited_seconds: float

    def describe(self) -> str:
        """``bob (pid 123) for 31.0 s``."""
        who = f"{self.role} (pid {self.pid})" if self.role else f"pid {self.pid}"
        return f"{who} for {self.waited_seconds:.1f} s"


@dataclass(frozen=True)
class EndedSession:
    """A user session the watchdog ended.

    Attributes
    ----------
    role
        The session's login role.
    pid
        Its process id.
    rule
        :data:`BLOCKING` or :data:`IDLE_IN_TRANSACTION`.
    seconds
        How long it had blocked (the longest wait it caused) or sat idle.
    blocked
        The sessions it kept waiting (empty for the idle rule).
    """

    role: str
    pid: int
    rule: str
    seconds: float
    blocked: tuple[BlockedSession, ...] = ()

    def describe(self) -> str:
        """One line for the log: who was ended and why; no query text."""
        if self.rule == BLOCKING:
            reason = "it blocked " + ", ".join(session.describe() for session in self.blocked)
        else:
            reason = f"it sat idle in a transaction for {self.seconds:.1f} s"
        return f"ended session pid {self.pid} of {self.role}: {reason}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``role``, ``pid``, ``rule``, ``seconds`` and ``blocked``."""
        return {
            "role": self.role,
            "pid": self.pid,
            "rule": self.rule,
            "seconds": round(self.seconds, 3),
            "blocked": [
                {
                    "role": session.role,
                    "pid": session.pid,
                    "seconds": round(session.waited_seconds, 3),
                }
                for session in self.blocked
            ],
        }


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did.

    Attributes
    ----------
    ended
        The sessions it ended.
    reset_roles
        Each user role whose own settings it reset, with the names of the
        settings it found (their values are not reported).
    """

    ended: tuple[EndedSession, ...] = ()
    reset_roles: dict[str, list[str]] = field(default_factory=dict)

    @property
    def acted(self) -> bool:
        """Whether the sweep ended a session or reset a role."""
        return bool(self.ended or self.reset_roles)

    def lines(self) -> list[str]:
        """One line per action, for a person or a log.

        Returns
        -------
        list of str
            Empty when nothing was done.
        """
        lines = [session.describe() for session in self.ended]
        for role, names in sorted(self.reset_roles.items()):
            found = ", ".join(names) or "the platform's were missing"
            lines.append(f"reset the settings role {role} gave itself ({found})")
        return lines

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``ended`` and ``reset_roles``."""
        return {
            "ended": [session.to_json() for session in self.ended],
            "reset_roles": dict(sorted(self.reset_roles.items())),
        }


def sweep(admin_url: URL, limits: WatchdogLimits) -> SweepReport:
    """Reset drifted role settings, then end user sessions that hold others up.

    Parameters
    ----------
    admin_url
        The manager role's URL.
    limits
        How long a user session may block others or idle in a transaction.

    Returns
    -------
    SweepReport
        The sessions ended and the roles reset; each is also logged.

    Raises
    ------
    ConfigurationError
        If the manager lacks a predefined role it needs; the message names the grant.
    DatabaseUnavailableError
        If the server cannot be reached.
    """
    with (
        translated_errors("sweeping for sessions that hold others up"),
        engine_for(admin_url).connect() as connection,
    ):
        try:
            reset_roles = reset_drifted_role_settings(connection, limits.session_limits)
            ended = _end_blockers(connection, limits.blocking_seconds)
            already = {session.pid for session in ended}
            ended += [
                session
                for session in _end_idle(connection, limits.idle_in_transaction_seconds)
                if session.pid not in already
            ]
        finally:
            connection.rollback()
    report = SweepReport(ended=tuple(ended), reset_roles=reset_roles)
    for line in report.lines():
        logger.warning("watchdog %s", line)
    return report


_BLOCKS = f"""
    WITH waiting AS (
        SELECT l.pid, min(coalesce(l.waitstart, clock_timestamp())) AS since
        FROM pg_locks l
        WHERE NOT l.granted AND l.pid IS NOT NULL
        GROUP BY l.pid
    ),
    blocks AS (
        SELECT blocker.pid AS blocker_pid, waiting.pid AS waiting_pid,
               extract(epoch FROM clock_timestamp() - waiting.since)::float8 AS waited
        FROM waiting, unnest(pg_blocking_pids(waiting.pid)) AS blocker(pid)
    )
    SELECT blocks.blocker_pid, holder.usesysid::bigint, pg_get_userbyid(holder.usesysid),
           blocks.waiting_pid, pg_get_userbyid(waiter.usesysid), blocks.waited
    FROM blocks
    JOIN pg_stat_activity holder ON holder.pid = blocks.blocker_pid
    LEFT JOIN pg_stat_activity waiter ON waiter.pid = blocks.waiting_pid
    WHERE holder.usesysid IN ({USER_ROLE_OIDS})
      AND blocks.blocker_pid <> blocks.waiting_pid
      AND blocks.blocker_pid NOT IN (SELECT pid FROM waiting)
    ORDER BY blocks.blocker_pid, blocks.waited DESC, blocks.waiting_pid
"""
"""Each user session at the head of a lock queue, with every session waiting on it.

``waitstart`` is filled in a moment after a wait begins; until then the wait counts as 0 s."""

_IDLE = f"""
    SELECT pid, usesysid::bigint, pg_get_userbyid(usesysid),
           extract(epoch FROM clock_timestamp() - state_change)::float8
    FROM pg_stat_activity
    WHERE usesysid IN ({USER_ROLE_OIDS})
      AND state IN ('idle in transaction', 'idle in transaction (aborted)')
      AND clock_timestamp() - state_change >= make_interval(secs => :limit)
    ORDER BY pid
"""

_STILL_BLOCKING = (
    f"pid = :pid AND usesysid = :role AND usesysid IN ({USER_ROLE_OIDS}) "
    "AND :pid = ANY(pg_blocking_pids(:waiting))"
)
_SAME_SESSION = f"pid = :pid AND usesysid = :role AND usesysid IN ({USER_ROLE_OIDS})"


def _end_blockers(connection: Connection, limit_seconds: float) -> list[EndedSession]:
    rows = connection.execute(text(_BLOCKS)).all()
    connection.rollback()
    holders: dict[int, tuple[int, str, list[BlockedSession]]] = {}
    for blocker_pid, role_oid, role, waiting_pid, waiting_role, waited in rows:
        entry = holders.setdefault(int(blocker_pid), (int(role_oid), str(role), []))
        entry[2].append(BlockedSession(waiting_role, int(waiting_pid), float(waited)))
    ended = []
    for pid, (role_oid, role, blocked) in holders.items():
        longest = blocked[0]
        if longest.waited_seconds < limit_seconds:
            continue
        # Only if it still blocks that session: it may have let go since the look.
        signalled = end_sessions_where(
            connection,
            _STILL_BLOCKING,
            {"pid": pid, "role": role_oid, "waiting": longest.pid},
        )
        if signalled:
            ended.append(EndedSession(role, pid, BLOCKING, longest.waited_seconds, tuple(blocked)))
    return ended


def _end_idle(connection: Connection, limit_seconds: float) -> list[EndedSession]:
    try:
        # The manager is NOINHERIT; only as this predefined role does it see
        # other roles' session state, for this transaction only.
        connection.execute(text("SET LOCAL ROLE pg_read_all_stats"))
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
            raise
        connection.rollback()
        raise ConfigurationError(
            f"the watchdog cannot see which sessions are idle: {MANAGER_ROLE} is not a member "
            f"of pg_read_all_stats; as a superuser run 'GRANT pg_read_all_stats TO {MANAGER_ROLE}'"
        ) from None
    rows = connection.execute(text(_IDLE), {"limit": limit_seconds}).all()
    connection.rollback()
    ended = []
    for pid, role_oid, role, idle in rows:
        # Signalling cannot see the session's state: a session that ran a
        # statement in the instant since the look is still ended, as
        # PostgreSQL's own idle timeout would have.
        signalled = end_sessions_where(
            connection, _SAME_SESSION, {"pid": int(pid), "role": int(role_oid)}
        )
        if signalled:
            ended.append(EndedSession(str(role), int(pid), IDLE_IN_TRANSACTION, float(idle)))
    return ended


def watch(
    admin_url: URL,
    limits: WatchdogLimits,
    *,
    interval_seconds: float,
    wait: Callable[[float], bool],
    on_sweep: Callable[[SweepReport], None] | None = None,
    max_sweeps: int | None = None,
) -> int:
    """Sweep, wait, and repeat until ``wait`` says stop.

    A server that cannot be reached is logged and tried again at the next
    sweep, so a restart does not end the watchdog.

    Parameters
    ----------
    admin_url
        The manager role's URL.
    limits
        The limits each sweep applies.
    interval_seconds
        The pause between sweeps, passed to ``wait``.
    wait
        Called with ``interval_seconds`` between sweeps; returns True to stop
        (``threading.Event.wait`` fits, so a signal can stop the loop at once).
    on_sweep
        Called with each sweep's report.
    max_sweeps
        Stop after this many sweeps; None for no limit.

    Returns
    -------
    int
        How many sweeps ran.

    Raises
    ------
    InvalidInputError
        If ``interval_seconds`` is not a positive number.
    """
    valid = isinstance(interval_seconds, int | float) and not isinstance(interval_seconds, bool)
    if not valid or not math.isfinite(interval_seconds) or interval_seconds <= 0:
        raise InvalidInputError(
            f"the watchdog's interval must be a number of seconds > 0, not {interval_seconds!r}; "
            "e.g. --interval 5"
        )
    sweeps = 0
    while max_sweeps is None or sweeps < max_sweeps:
        try:
            report = sweep(admin_url, limits)
        except DatabaseUnavailableError as error:
            logger.warning("watchdog: %s", error)
        else:
            if on_sweep is not None:
                on_sweep(report)
        sweeps += 1
        if (max_sweeps is None or sweeps < max_sweeps) and wait(interval_seconds):
            break
    return sweeps


class BackgroundWatchdog:
    """The watchdog process beside the embedded server.

    Files in the server's directory: ``watchdog.pid`` (its process id) and
    ``watchdog.log`` (what it ended, and its errors).

    Parameters
    ----------
    settings
        The settings in effect; the process gets the same database directory
        and watchdog settings.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.directory = settings.resolved_database_dir
        self.pid_file = self.directory / "watchdog.pid"
        self.log_path = self.directory / "watchdog.log"

    def __repr__(self) -> str:
        return f"BackgroundWatchdog(directory={str(self.directory)!r})"

    def pid(self) -> int | None:
        """The running watchdog's process id, or None when none runs.

        Returns
        -------
        int or None
            The pid in ``watchdog.pid`` if that process is alive and is a watchdog.
        """
        try:
            recorded = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return recorded if is_background_watchdog(recorded) else None

    def start(self) -> int:
        """Start the watchdog unless one already runs for this directory.

        Returns
        -------
        int
            The running watchdog's process id.

        Raises
        ------
        ConfigurationError
            If the directory cannot hold its files.
        """
        with self._locked():
            running = self.pid()
            if running is not None:
                return running
            command = [sys.executable, "-m", "quantdesk", "db", "watchdog", BACKGROUND_FLAG]
            try:
                with self.log_path.open("a") as log:
                    process = subprocess.Popen(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        env=self._environment(),
                        start_new_session=True,
                    )
                self.pid_file.write_text(f"{process.pid}\n")
            except OSError as error:
                raise ConfigurationError(
                    f"cannot start the database watchdog in {self.directory} ({error.strerror}); "
                    "set QUANTDESK_DATABASE_DIR to a writable directory"
                ) from None
            self._wait_until_recognisable(process)
            return process.pid

    def _wait_until_recognisable(self, process: subprocess.Popen[bytes]) -> None:
        """Return once ``process`` shows its watchdog command line, so a check right after
        the start (this ``up`` or the next) does not take it for a stale pid file's process."""
        deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
        while not is_background_watchdog(process.pid):
            if process.poll() is not None:
                raise ConfigurationError(
                    f"the database watchdog exited at once (status {process.returncode}); "
                    f"see {self.log_path}"
                )
            if time.monotonic() > deadline:
                return
            time.sleep(_STOP_POLL_SECONDS)

    def stop(self) -> bool:
        """Stop the watchdog if it runs.

        Returns
        -------
        bool
            True if it was running and is now stopped.
        """
        if not self.directory.is_dir():
            return False
        with self._locked():
            running = self.pid()
            if running is None:
                self.pid_file.unlink(missing_ok=True)
                return False
            _terminate(running)
            self.pid_file.unlink(missing_ok=True)
            return True

    def still_wanted(self, pid: int) -> bool:
        """Whether the watchdog process ``pid`` should keep running.

        It should not once the server's files are gone or another process is
        the recorded watchdog.

        Parameters
        ----------
        pid
            The asking process's id.

        Returns
        -------
        bool
            False when it should exit.
        """
        if not (self.directory / "admin-url").is_file():
            return False
        try:
            recorded = int(self.pid_file.read_text().strip())
        except FileNotFoundError:
            return True
        except (OSError, ValueError):
            return False
        return recorded == pid

    def _locked(self) -> FileLock:
        return FileLock(str(self.directory / ".watchdog.lock"), timeout=_STOP_TIMEOUT_SECONDS * 3)

    def _environment(self) -> dict[str, str]:
        """This process's environment with exactly the settings the watchdog needs."""
        settings = self._settings
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(ENVIRONMENT_PREFIX)
        }
        chosen: dict[str, object] = {
            "data_dir": settings.data_dir,
            "database_dir": self.directory,
            "log_level": settings.log_level,
            "watchdog_blocking_seconds": settings.watchdog_blocking_seconds,
            "watchdog_idle_in_transaction_seconds": settings.watchdog_idle_in_transaction_seconds,
            "watchdog_interval_seconds": settings.watchdog_interval_seconds,
        }
        environment.update(
            {f"{ENVIRONMENT_PREFIX}{name.upper()}": str(value) for name, value in chosen.items()}
        )
        return environment


def is_background_watchdog(pid: int) -> bool:
    """Whether ``pid`` is a live watchdog process that :class:`BackgroundWatchdog` started.

    Parameters
    ----------
    pid
        A process id.

    Returns
    -------
    bool
        True for a running (not exited) process whose command line carries
        :data:`BACKGROUND_FLAG`; where ``/proc`` is missing, any live process.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    try:
        arguments = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return BACKGROUND_FLAG.encode() in arguments and b"watchdog" in arguments


def _terminate(pid: int) -> None:
    """Ask ``pid`` to stop, and kill it if it has not within the timeout."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
    while is_background_watchdog(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(_STOP_POLL_SECONDS)
