"""``quantdesk predict`` and ``quantdesk models list|show|rm`` as a person would type them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_store_runs_cli import Runner, runner_for

PREDICT = (
    "predict", "sample:BTC/USDT", "--timeframe", "1h", "--start", "2024-01-01",
    "--end", "2024-04-01", "--folds", "2",
)  # fmt: skip


@pytest.fixture
def quantdesk_as_user(database_user: Callable[..., Any], tmp_path: Path) -> Runner:
    return runner_for(database_user("cli_models"), tmp_path)


def test_predict_trains_then_reuses_and_models_are_listed_shown_and_removed(
    quantdesk_as_user: Runner,
) -> None:
    first = quantdesk_as_user(*PREDICT, "--bars", "2", "--json")
    assert first.returncode == 0, first.stderr
    trained = json.loads(first.stdout)
    assert trained["trained"] is True
    assert len(trained["predictions"]) == 2
    assert 0 <= trained["predictions"][0]["probability"] <= 1
    assert set(trained["out_of_sample"]) == {"auc", "accuracy", "log_loss"}
    second = json.loads(quantdesk_as_user(*PREDICT, "--json").stdout)
    assert second["reused"] is True
    assert second["model_id"] == trained["model_id"]
    text = quantdesk_as_user(*PREDICT)
    assert f"model {trained['model_id']} reused" in text.stdout

    listed = json.loads(quantdesk_as_user("models", "list", "--json").stdout)
    assert [row["id"] for row in listed] == [trained["model_id"]]
    assert listed[0]["data_address"] == "sample:BTC/USDT"
    table = quantdesk_as_user("models", "list")
    assert trained["model_id"] in table.stdout
    shown = quantdesk_as_user("models", "show", trained["model_id"])
    assert shown.returncode == 0, shown.stderr
    assert "top features by gain:" in shown.stdout
    assert (
        len(
            json.loads(quantdesk_as_user("models", "show", trained["model_id"], "--json").stdout)[
                "folds"
            ]
        )
        == 2
    )

    removed = quantdesk_as_user("models", "rm", trained["model_id"])
    assert removed.returncode == 0, removed.stderr
    assert "no models" in quantdesk_as_user("models", "list").stdout
    again = quantdesk_as_user("models", "show", trained["model_id"])
    assert again.returncode != 0
    assert "quantdesk models list" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_bad_predict_arguments_are_one_line(quantdesk_as_user: Runner) -> None:
    short = quantdesk_as_user(
        *PREDICT[:-2], "--folds", "5", "--horizon", "24", "--end", "2024-01-05"
    )
    assert short.returncode != 0
    assert "need at least" in short.stderr
    assert len(short.stderr.strip().splitlines()) == 1
    age = quantdesk_as_user(*PREDICT, "--max-age", "soon")
    assert age.returncode != 0
    assert "'7D'" in age.stderr
