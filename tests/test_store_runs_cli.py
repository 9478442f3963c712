"""``quantdesk backtest --save`` and ``quantdesk runs list|show|rm`` run as a person would."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quantdesk.store.runs import list_runs, load_run, save_run
from tests.command_line import run_quantdesk
from tests.frames import bars_from_closes
from tests.saved_runs import small_result

Runner = Callable[..., subprocess.CompletedProcess[str]]
INJECTION = "x'; DROP TABLE quantdesk.backtests; --"
SAMPLE_BACKTEST = (
    "backtest",
    "sma_cross",
    "--data",
    "sample:BTC/USDT",
    "-t",
    "4h",
    "--start",
    "2024-01-01",
    "--end",
    "2024-04-01",
    "-p",
    "fast=5",
    "-p",
    "slow=20",
    "--lot-size",
    "1e-8",
)


def runner_for(user: Any, data_dir: Path) -> Runner:
    """Run ``quantdesk ...`` connecting as ``user``."""
    url = user.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def run(*words: str) -> subprocess.CompletedProcess[str]:
        return run_quantdesk(
            *words, data_dir=data_dir, extra_environment={"QUANTDESK_DATABASE_URL": url}
        )

    return run


@pytest.fixture
def user(database_user: Callable[..., Any]) -> Any:
    return database_user("cli_runs")


@pytest.fixture
def quantdesk_as_user(user: Any, tmp_path: Path) -> Runner:
    return runner_for(user, tmp_path)


def assert_one_line_error(done: subprocess.CompletedProcess[str], exit_code: int = 2) -> str:
    assert done.returncode == exit_code, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr.strip()


def test_save_list_show_and_remove(quantdesk_as_user: Runner, user: Any) -> None:
    backtested = quantdesk_as_user(*SAMPLE_BACKTEST, "--save", "--name", "first try", "--json")
    assert backtested.returncode == 0, backtested.stderr
    printed = json.loads(backtested.stdout)
    run_id = printed["run_id"]
    assert load_run(run_id, settings=user.settings).run_info.name == "first try"

    listed = quantdesk_as_user("runs", "list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:4] == ["id", "name", "strategy", "data"]
    assert row.startswith(f"{run_id}  first try  sma_cross  sample:BTC/USDT 4h")
    [entry] = json.loads(quantdesk_as_user("runs", "list", "--json").stdout)
    assert (entry["id"], entry["name"], entry["symbol"], entry["timeframe"]) == (
        run_id,
        "first try",
        "BTC/USDT",
        "4h",
    )

    shown = json.loads(quantdesk_as_user("runs", "show", run_id, "--json").stdout)
    assert shown["stats"] == printed["stats"]
    assert shown["parameters"] == {"fast": 5, "slow": 20, "short": False}
    assert shown["config"]["lot_size"] == 1e-8
    text = quantdesk_as_user("runs", "show", run_id)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"run {run_id} (first try)\nsma_cross on sample:BTC/USDT 4h")
    assert "  lot_size          1e-08" in text.stdout
    assert "statistics:" in text.stdout

    removed = quantdesk_as_user("runs", "rm", run_id.upper(), "--json")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout) == {"id": run_id, "removed": True}
    assert list_runs(settings=user.settings) == []
    gone = assert_one_line_error(quantdesk_as_user("runs", "show", run_id))
    assert (
        gone
        == f"quantdesk: error: no saved run with id {run_id}; 'quantdesk runs list' shows yours"
    )


def test_the_text_of_a_save_names_the_run(quantdesk_as_user: Runner, user: Any) -> None:
    backtested = quantdesk_as_user(*SAMPLE_BACKTEST, "--name", "named means saved")
    assert backtested.returncode == 0, backtested.stderr
    [info] = list_runs(settings=user.settings)
    assert f"saved as run {info.id}" in backtested.stdout.splitlines()[1]
    assert info.name == "named means saved"


def test_without_save_nothing_is_stored(quantdesk_as_user: Runner, user: Any) -> None:
    assert quantdesk_as_user(*SAMPLE_BACKTEST).returncode == 0
    assert list_runs(settings=user.settings) == []
    empty = quantdesk_as_user("runs", "list")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.startswith("no saved runs; save one with 'quantdesk backtest")
    assert json.loads(quantdesk_as_user("runs", "list", "--json").stdout) == []


def test_injection_in_the_data_address_and_name_is_stored_literally(
    quantdesk_as_user: Runner, user: Any, tmp_path: Path
) -> None:
    frame = bars_from_closes(100 + 10 * np.sin(np.arange(300) / 7.0), frequency="1D")
    path = tmp_path / f"{INJECTION}.csv"
    frame.reset_index().rename(columns={"time": "Date"}).to_csv(path, index=False)
    backtested = quantdesk_as_user(
        "backtest",
        "sma_cross",
        "--data",
        f"csv:{path}",
        "-p",
        "fast=3",
        "-p",
        "slow=9",
        "--name",
        INJECTION,
        "--json",
    )
    assert backtested.returncode == 0, backtested.stderr
    [info] = list_runs(settings=user.settings)
    assert (info.name, info.source, info.symbol) == (INJECTION, "csv", str(path))
    [entry] = json.loads(quantdesk_as_user("runs", "list", "--json").stdout)
    assert (entry["name"], entry["symbol"]) == (INJECTION, str(path))


@pytest.mark.parametrize("command", ["show", "rm"])
def test_a_bad_id_exits_2_naming_the_fix(quantdesk_as_user: Runner, command: str) -> None:
    message = assert_one_line_error(quantdesk_as_user("runs", command, "' OR 1=1 --"))
    assert message == (
        'quantdesk: error: "\' OR 1=1 --" is not a run id; '
        "'quantdesk runs list' shows the ids of your runs"
    )
    as_json = assert_one_line_error(quantdesk_as_user("runs", command, "nope", "--json"))
    assert json.loads(as_json) == {
        "error": "'nope' is not a run id; 'quantdesk runs list' shows the ids of your runs"
    }


def test_someone_elses_run_looks_missing(
    quantdesk_as_user: Runner, database_user: Callable[..., Any]
) -> None:
    owner = database_user("cli_owner")
    theirs = save_run(small_result(31), settings=owner.settings).id
    missing = uuid.uuid4()
    for command in ("show", "rm"):
        for_theirs = assert_one_line_error(quantdesk_as_user("runs", command, str(theirs)))
        for_missing = assert_one_line_error(quantdesk_as_user("runs", command, str(missing)))
        assert for_theirs.replace(str(theirs), "ID") == for_missing.replace(str(missing), "ID")
    assert load_run(theirs, settings=owner.settings).id == theirs


def test_without_a_database_the_error_names_the_fix(tmp_path: Path) -> None:
    message = assert_one_line_error(run_quantdesk("runs", "list", data_dir=tmp_path))
    assert "set QUANTDESK_DATABASE_URL" in message
