"""Saved runs against a real PostgreSQL: exact round trips, isolation, injection, ids, listing."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import quantdesk
from quantdesk.config import Settings
from quantdesk.engine import BacktestResult, run_backtest
from quantdesk.errors import ConfigurationError, InvalidInputError, RunNotFoundError, StoreError
from quantdesk.store.connection import engine_for
from quantdesk.store.run_codec import decode_values, encode_values
from quantdesk.store.runs import RunInfo, list_runs, load_run, remove_run, save_run
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes
from tests.saved_runs import (
    assert_run_matches,
    assert_same_values,
    owned_row_counts,
    small_result,
)

INJECTIONS = (
    "'; DROP TABLE quantdesk.backtests; --",
    "Robert'); DELETE FROM quantdesk.backtests WHERE ('1'='1",
    "' OR owner <> current_user OR '1'='1",
    '" OR ""="',
    "$$; DROP SCHEMA quantdesk CASCADE; $$",
    "%s %(id)s :id $1 {} {0} ?",
    "\\'; SELECT pg_sleep(10); --",
    "x' UNION SELECT id, owner FROM quantdesk.backtests --",
    "ünïcødé '; -- ☃",
)


@pytest.fixture
def user(database_user: Callable[..., Any]) -> Any:
    return database_user("runs")


def backtest(strategy: str, **options: Any) -> BacktestResult:
    return quantdesk.backtest(
        strategy,
        "sample:ETH/USDT",
        timeframe="1h",
        start="2024-01-01",
        end="2024-03-01",
        lot_size=1e-8,
        **options,
    )


@pytest.mark.parametrize(
    ("strategy", "options"),
    [
        ("sma_cross", {"fast": 5, "slow": 20, "short": True}),
        ("rsi_reversion", {}),
        ("bollinger_breakout", {"stop_loss": 0.02, "take_profit": 0.04}),
        ("breakout_scalping", {"commission": 0.001}),
        ("sma_cross", {"fast": 5, "slow": 20, "finalize_trades": True}),
    ],
    ids=["sma-cross-long-short", "rsi-reversion", "bollinger-stops", "scalping", "finalized"],
)
def test_a_saved_run_loads_back_identical(user: Any, strategy: str, options: Any) -> None:
    result = backtest(strategy, **options)
    info = save_run(result, name=f"{strategy} run", settings=user.settings)
    run = load_run(info.id, settings=user.settings)
    assert_run_matches(run, result)
    assert run.run_info == info
    assert (info.name, info.source, info.symbol, info.timeframe) == (
        f"{strategy} run",
        "sample",
        "ETH/USDT",
        "1h",
    )
    assert info.start_time == result.equity.index[0]
    assert info.end_time == result.equity.index[-1]


def test_runs_without_trades_or_with_an_open_position_load_back_identical(user: Any) -> None:
    frame = bars_from_closes(100 + np.sin(np.arange(50) / 5.0))
    flat = run_backtest(frame, Signals.from_series(np.zeros(len(frame), dtype=bool)))
    held = small_result(15)
    assert flat.trades.empty
    assert flat.open_position is None
    assert held.open_position is not None
    for result in (flat, held):
        run = load_run(save_run(result, settings=user.settings).id, settings=user.settings)
        assert_run_matches(run, result)


def test_result_save_uses_the_installed_store(user: Any) -> None:
    result = small_result(3, data_address="sample:BTC/USDT")
    info = result.save(name="from the result", settings=user.settings)
    assert isinstance(info, RunInfo)
    assert (info.name, info.source, info.symbol) == ("from the result", "sample", "BTC/USDT")
    assert_run_matches(load_run(str(info.id), settings=user.settings), result)


def test_a_frame_backtest_saves_without_provenance(user: Any) -> None:
    result = small_result(4)
    info = save_run(result, settings=user.settings)
    assert (info.name, info.source, info.symbol, info.timeframe) == (None, None, None, None)
    assert_run_matches(load_run(info.id, settings=user.settings), result)


def test_save_writes_one_row_in_each_table(user: Any, postgres_server: Any) -> None:
    info = save_run(small_result(5), settings=user.settings)
    assert owned_row_counts(postgres_server.superuser_url, user.name) == {
        "backtests": 1,
        "backtest_equity": 1,
        "backtest_trades": 1,
    }
    remove_run(info.id, settings=user.settings)
    assert set(owned_row_counts(postgres_server.superuser_url, user.name).values()) == {0}


@settings(max_examples=30)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40))
def test_jsonb_keeps_every_encoded_float_exactly(postgres_server: Any, values: list[float]) -> None:
    named = {f"value_{position}": value for position, value in enumerate(values)}
    document = json.dumps(encode_values(named), allow_nan=False)
    with engine_for(postgres_server.superuser_url).connect() as connection:
        stored = connection.execute(text("SELECT CAST(:doc AS jsonb)"), {"doc": document}).scalar()
    assert_same_values(decode_values(stored, order=list(named)), named)


@pytest.mark.parametrize("injection", INJECTIONS)
def test_injection_strings_are_stored_literally(
    user: Any, database_user: Callable[..., Any], postgres_server: Any, injection: str
) -> None:
    bystander = database_user("bystander")
    kept = save_run(small_result(1), name="bystander's run", settings=bystander.settings)
    result = small_result(
        2,
        parameters={injection: injection, "fast": 3},
        strategy_name=injection,
        data_address=f"csv:{injection}",
    )
    info = save_run(result, name=injection, settings=user.settings)
    assert (info.name, info.strategy, info.source, info.symbol) == (
        injection,
        injection,
        "csv",
        injection,
    )
    run = load_run(info.id, settings=user.settings)
    assert run.parameters == {injection: injection, "fast": 3}
    assert_run_matches(run, result)
    assert [listed.name for listed in list_runs(settings=user.settings)] == [injection]
    assert [listed.id for listed in list_runs(settings=bystander.settings)] == [kept.id]
    for owner in (user.name, bystander.name):
        assert owned_row_counts(postgres_server.superuser_url, owner) == {
            "backtests": 1,
            "backtest_equity": 1,
            "backtest_trades": 1,
        }
    with pytest.raises(InvalidInputError, match="is not a run id"):
        load_run(injection, settings=user.settings)


@pytest.mark.parametrize(
    "bad",
    ["nope", "", "12345", "' OR 1=1 --", f"{uuid.uuid4()}x", 42, None, 1.5],
    ids=["word", "empty", "digits", "injection", "too-long", "integer", "none", "float"],
)
def test_bad_run_ids_are_refused_with_the_fix(user: Any, bad: Any) -> None:
    for action in (load_run, remove_run):
        with pytest.raises(InvalidInputError, match="is not a run id; 'quantdesk runs list'"):
            action(bad, settings=user.settings)


def test_run_ids_are_accepted_as_text_in_any_case(user: Any) -> None:
    info = save_run(small_result(6), settings=user.settings)
    for spelling in (str(info.id).upper(), f"  {info.id}  ", info.id.urn, info.id.hex):
        assert load_run(spelling, settings=user.settings).id == info.id


def message_without(error: BaseException, run_id: uuid.UUID) -> str:
    return str(error).replace(str(run_id), "RUN_ID")


def test_someone_elses_run_is_exactly_like_a_missing_one(
    user: Any, database_user: Callable[..., Any]
) -> None:
    owner = database_user("owner")
    theirs = save_run(small_result(7), settings=owner.settings)
    missing = uuid.uuid4()
    for action in (load_run, remove_run):
        with pytest.raises(RunNotFoundError) as for_theirs:
            action(theirs.id, settings=user.settings)
        with pytest.raises(RunNotFoundError) as for_missing:
            action(missing, settings=user.settings)
        assert type(for_theirs.value) is type(for_missing.value)
        assert message_without(for_theirs.value, theirs.id) == message_without(
            for_missing.value, missing
        )
        assert "\n" not in str(for_theirs.value)
    assert list_runs(settings=user.settings) == []
    assert load_run(theirs.id, settings=owner.settings).id == theirs.id


def test_an_admin_sees_only_their_own_runs_here(
    user: Any, database_user: Callable[..., Any]
) -> None:
    admin = database_user("boss", admin=True)
    theirs = save_run(small_result(8), settings=user.settings)
    assert list_runs(settings=admin.settings) == []
    with pytest.raises(RunNotFoundError):
        load_run(theirs.id, settings=admin.settings)
    with pytest.raises(RunNotFoundError):
        remove_run(theirs.id, settings=admin.settings)
    assert load_run(theirs.id, settings=user.settings).id == theirs.id


def test_listing_is_newest_first_and_limited(user: Any) -> None:
    saved = [
        save_run(small_result(seed), name=f"run {seed}", settings=user.settings)
        for seed in range(5)
    ]
    newest_first = [info.id for info in reversed(saved)]
    assert [info.id for info in list_runs(settings=user.settings)] == newest_first
    assert [info.id for info in list_runs(limit=2, settings=user.settings)] == newest_first[:2]
    assert [info.id for info in list_runs(limit=None, settings=user.settings)] == newest_first
    assert list_runs(settings=user.settings) == list(reversed(saved))
    created = [info.created_at for info in list_runs(settings=user.settings)]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "10"])
def test_bad_limits_are_refused(user: Any, limit: Any) -> None:
    with pytest.raises(InvalidInputError, match="limit must be a positive whole number"):
        list_runs(limit=limit, settings=user.settings)


def test_removing_deletes_the_run_with_its_data(user: Any, postgres_server: Any) -> None:
    kept, removed = (save_run(small_result(seed), settings=user.settings) for seed in (9, 10))
    remove_run(str(removed.id), settings=user.settings)
    with pytest.raises(RunNotFoundError, match="'quantdesk runs list' shows yours"):
        load_run(removed.id, settings=user.settings)
    with pytest.raises(RunNotFoundError):
        remove_run(removed.id, settings=user.settings)
    assert [info.id for info in list_runs(settings=user.settings)] == [kept.id]
    assert set(owned_row_counts(postgres_server.superuser_url, user.name).values()) == {1}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("two\nlines", "control characters"),
        ("x" * 201, "at most 200"),
        (5, "must be text"),
    ],
    ids=["empty", "blanks", "newline", "too-long", "number"],
)
def test_bad_names_are_refused_and_nothing_is_saved(
    user: Any, postgres_server: Any, name: Any, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        save_run(small_result(11), name=name, settings=user.settings)
    assert set(owned_row_counts(postgres_server.superuser_url, user.name).values()) == {0}


@pytest.mark.parametrize(
    "change",
    [
        {"strategy_name": "a\x00b"},
        {"data_address": "csv:a\x00b"},
        {"parameters": {"fast": [1, 2]}},
        {"parameters": {"a\x00": 1}},
    ],
    ids=["nul-strategy", "nul-symbol", "list-parameter", "nul-parameter"],
)
def test_unsavable_results_are_refused_before_anything_is_written(
    user: Any, postgres_server: Any, change: dict[str, Any]
) -> None:
    result = dataclasses.replace(small_result(12), **change)
    with pytest.raises(InvalidInputError) as caught:
        save_run(result, settings=user.settings)
    assert "\n" not in str(caught.value)
    assert set(owned_row_counts(postgres_server.superuser_url, user.name).values()) == {0}


def test_only_results_can_be_saved(user: Any) -> None:
    with pytest.raises(InvalidInputError, match="takes the BacktestResult"):
        save_run(pd.Series([1.0]), settings=user.settings)  # type: ignore[arg-type]


def test_saving_without_an_installed_store_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **_: [])
    with pytest.raises(ConfigurationError, match=r"no result store is installed.*reinstall"):
        small_result(13).save()


def test_an_unknown_store_is_named() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown result store 'postgress'.*'postgres'"):
        small_result(14).save(store="postgress")


def test_without_a_database_the_error_names_the_fix() -> None:
    with pytest.raises(ConfigurationError, match="set QUANTDESK_DATABASE_URL"):
        list_runs()


def test_a_wrong_password_is_a_one_line_store_error(user: Any) -> None:
    wrong = user.url.set(password="not-the-password").render_as_string(hide_password=False)
    with pytest.raises(StoreError, match="refused the login") as caught:
        list_runs(settings=Settings.load(database_url=wrong))
    assert "\n" not in str(caught.value)
    assert "not-the-password" not in str(caught.value)


def test_a_run_saved_with_the_old_statistics_keys_loads_in_todays(
    user: Any, postgres_server: Any
) -> None:
    result = small_result(6)
    info = save_run(result, name="saved before sharpe_backtesting_py", settings=user.settings)
    stats = dict(result.stats)
    for old, explicit in (
        ("volatility_ann_pct", "volatility_ann_backtesting_py_pct"),
        ("sharpe", "sharpe_backtesting_py"),
        ("sortino", "sortino_backtesting_py"),
        ("calmar", "calmar_backtesting_py"),
    ):
        stats[old] = stats.pop(explicit)
    document = json.dumps(encode_values(stats), allow_nan=False)
    with engine_for(postgres_server.superuser_url).begin() as connection:
        connection.execute(
            text("UPDATE quantdesk.backtests SET stats = CAST(:stats AS jsonb) WHERE id = :id"),
            {"stats": document, "id": info.id},
        )
    assert_run_matches(load_run(info.id, settings=user.settings), result)
