"""The server restarted in the middle of a big save: the run is wholly saved or absent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
import pytest

from quantdesk.engine import BacktestResult, run_backtest
from quantdesk.errors import DatabaseUnavailableError, QuantdeskError
from quantdesk.store.runs import RunInfo, list_runs, load_run, save_run
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes
from tests.saved_runs import assert_run_matches, owned_row_counts, small_result

BIG_POINTS = 4_000_000
"""Random equity is nearly incompressible: about 25 MB to write, long enough to interrupt."""


@pytest.fixture(scope="module")
def big_result() -> BacktestResult:
    """Always in the market on a random walk, so the equity curve barely compresses."""
    walk = np.random.default_rng(21).normal(0, 0.05, BIG_POINTS).cumsum()
    frame = bars_from_closes(1_000 + walk - walk.min(), frequency="1min")
    turns = np.zeros(BIG_POINTS, dtype=bool)
    turns[::50_000] = True
    shorts = np.roll(turns, 25_000)
    return run_backtest(
        frame, Signals.from_series(turns, short_entries=shorts), strategy_name="big"
    )


def wait_for_the_equity_insert(postgres_server: Any, user_name: str, timeout: float = 30) -> bool:
    """Whether ``user_name``'s session got to writing the equity curve within ``timeout``."""
    libpq = postgres_server.superuser_url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq, autocommit=True) as session:
        while time.monotonic() < deadline:
            busy = session.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND state = 'active' "
                "AND query LIKE 'INSERT INTO quantdesk.backtest_equity%%'",
                (user_name,),
            ).fetchone()
            if busy is not None and busy[0] > 0:
                return True
            time.sleep(0.002)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_restart_mid_save_leaves_the_run_whole_or_absent(
    database_user: Callable[..., Any],
    postgres_server: Any,
    big_result: BacktestResult,
    mode: str,
) -> None:
    user = database_user("restarted")
    outcome: dict[str, Any] = {}

    def save() -> None:
        try:
            outcome["info"] = save_run(big_result, name="big", settings=user.settings)
        except QuantdeskError as error:
            outcome["error"] = error

    saving = threading.Thread(target=save)
    saving.start()
    assert wait_for_the_equity_insert(postgres_server, user.name), "the save never began"
    postgres_server.restart(mode=mode)
    saving.join(timeout=120)
    assert not saving.is_alive()

    counts = owned_row_counts(postgres_server.superuser_url, user.name)
    assert set(counts.values()) in ({0}, {1}), counts
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, DatabaseUnavailableError), repr(error)
        message = str(error)
        assert "\n" not in message
        assert message.startswith("saving the run: the database is unavailable")
        assert "retry" in message
    else:
        assert isinstance(outcome["info"], RunInfo)
    runs = list_runs(settings=user.settings)
    assert len(runs) == counts["backtests"]
    if runs:
        assert_run_matches(load_run(runs[0].id, settings=user.settings), big_result)

    after = save_run(small_result(22), name="after the restart", settings=user.settings)
    assert load_run(after.id, settings=user.settings).run_info.name == "after the restart"


def test_a_stopped_server_gives_a_one_line_unavailable_error(
    database_user: Callable[..., Any], postgres_server: Any
) -> None:
    user = database_user("stopped")
    result = small_result(23)
    postgres_server.stop()
    try:
        for action in (
            lambda: save_run(result, settings=user.settings),
            lambda: list_runs(settings=user.settings),
        ):
            with pytest.raises(DatabaseUnavailableError) as caught:
                action()
            assert "\n" not in str(caught.value)
            assert "retry" in str(caught.value)
    finally:
        postgres_server.start()
    assert set(owned_row_counts(postgres_server.superuser_url, user.name).values()) == {0}
    save_run(result, settings=user.settings)


def test_a_connection_lost_after_the_commit_landed_reports_the_run_saved(
    database_user: Callable[..., Any], postgres_server: Any
) -> None:
    """The server commits, then the session dies before the client hears of it.

    A synchronous standby that never answers holds each COMMIT after it is
    written locally; ending that session loses the acknowledgement, not the run.
    """
    user = database_user("committed")
    result = small_result()
    libpq = postgres_server.superuser_url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    outcome: dict[str, Any] = {}

    def save() -> None:
        try:
            outcome["info"] = save_run(result, name="acknowledgement lost", settings=user.settings)
        except QuantdeskError as error:
            outcome["error"] = error

    with psycopg.connect(libpq, autocommit=True) as superuser:
        superuser.execute("ALTER SYSTEM SET synchronous_standby_names = 'nobody_answers'")
        superuser.execute("SELECT pg_reload_conf()")
        saving = threading.Thread(target=save)
        try:
            time.sleep(0.5)
            saving.start()
            deadline = time.monotonic() + 30
            waiting = None
            while waiting is None and time.monotonic() < deadline:
                waiting = superuser.execute(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE usename = %s AND wait_event = 'SyncRep'",
                    (user.name,),
                ).fetchone()
                time.sleep(0.01)
            assert waiting is not None, "the save's COMMIT never waited for the standby"
            superuser.execute("SELECT pg_terminate_backend(%s)", (waiting[0],))
        finally:
            superuser.execute("ALTER SYSTEM RESET synchronous_standby_names")
            superuser.execute("SELECT pg_reload_conf()")
            saving.join(timeout=60)
    assert not saving.is_alive()
    assert "error" not in outcome, outcome.get("error")
    info = outcome["info"]
    assert isinstance(info, RunInfo)
    assert [run.id for run in list_runs(settings=user.settings)] == [info.id]
    assert_run_matches(load_run(info.id, settings=user.settings), result)
