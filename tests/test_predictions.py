"""quantdesk.predict: auto-train when no fitting model exists, reuse it otherwise, per user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

import quantdesk
from quantdesk.errors import InvalidInputError
from quantdesk.learning import TrainingConfig
from tests.test_store_isolation import connect

ADDRESS = "sample:BTC/USDT"
FAST = TrainingConfig(folds=2, max_rounds=40)
SPAN = {"timeframe": "1h", "start": "2024-01-01", "end": "2024-04-01"}


def predicted(user: Any, config: TrainingConfig = FAST, **changes: Any) -> Any:
    return quantdesk.predict(ADDRESS, config=config, settings=user.settings, **{**SPAN, **changes})


def test_the_first_prediction_trains_and_the_next_reuses(
    database_user: Callable[..., Any],
) -> None:
    alice = database_user("predict_alice")
    first = predicted(alice, bars=3)
    assert first.trained
    assert first.reason == "no model for this data and feature set"
    assert len(first.latest) == 3
    assert first.latest["probability"].between(0, 1).all()
    assert set(first.latest["signal"]) <= {-1, 0, 1}
    second = predicted(alice)
    assert not second.trained
    assert second.reason == "reused"
    assert second.model_id == first.model_id
    assert second.to_dict()["reused"] is True
    assert [record.id for record in quantdesk.list_models(settings=alice.settings)] == [
        first.model_id
    ]
    with connect(alice.url) as session:
        assert session.execute("SELECT count(*) FROM quantdesk.predictions").fetchone() == (2,)


def test_a_model_the_data_has_outrun_is_retrained(database_user: Callable[..., Any]) -> None:
    dana = database_user("predict_dana")
    first = predicted(dana)
    later = {"end": "2024-04-11"}
    kept = predicted(dana, max_age="30D", **later)
    assert kept.model_id == first.model_id
    retrained = predicted(dana, max_age="7D", **later)
    assert retrained.trained
    assert retrained.reason.startswith("stale: the data runs")
    assert retrained.model_id != first.model_id


def test_changed_parameters_retrain(database_user: Callable[..., Any]) -> None:
    erin = database_user("predict_erin")
    first = predicted(erin)
    changed = predicted(erin, config=FAST.model_copy(update={"num_leaves": 7}))
    assert changed.trained
    assert changed.reason == "training parameters changed"
    assert changed.model_id != first.model_id
    # The first model still fits its own parameters, so going back reuses it.
    back = predicted(erin)
    assert not back.trained
    assert back.model_id == first.model_id


def test_bob_never_uses_alices_model(database_user: Callable[..., Any]) -> None:
    alice, bob = database_user("predict_owner"), database_user("predict_other")
    hers = predicted(alice)
    his = predicted(bob)
    assert his.trained
    assert his.model_id != hers.model_id
    assert [record.id for record in quantdesk.list_models(settings=bob.settings)] == [his.model_id]
    assert not predicted(bob).trained
    # In plain SQL, bob sees only his own two predictions and cannot hang one on her model.
    with connect(bob.url) as session:
        assert session.execute("SELECT count(*) FROM quantdesk.predictions").fetchone() == (2,)
        assert session.execute(
            "SELECT count(*) FROM quantdesk.predictions WHERE model_id = %s", (hers.model_id,)
        ).fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute(
                "INSERT INTO quantdesk.predictions (owner, model_id) VALUES (%s, %s)",
                (alice.name, hers.model_id),
            )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            session.execute(
                "INSERT INTO quantdesk.predictions (model_id) VALUES (%s)", (hers.model_id,)
            )


def test_too_little_data_says_how_much_is_needed(database_user: Callable[..., Any]) -> None:
    frank = database_user("predict_frank")
    with pytest.raises(InvalidInputError, match=r"need at least [\d,]+ bars, the data has"):
        predicted(frank, config=TrainingConfig(folds=5, horizon=24), end="2024-01-10")
    with pytest.raises(InvalidInputError, match="'7D'"):
        predicted(frank, max_age="soon")
