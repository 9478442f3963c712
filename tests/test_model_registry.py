"""The model registry: a model round-trips exactly, and is its owner's alone (tested in SQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import lightgbm
import numpy as np
import psycopg
import pytest

from quantdesk.errors import ModelNotFoundError
from quantdesk.features import get_feature_set
from quantdesk.learning import TrainedModel, TrainingConfig, predict_with, train_model
from quantdesk.store.model_registry import delete_model, list_models, load_model, save_model
from tests.test_learning import autocorrelated, bars_from_returns
from tests.test_store_isolation import connect


@pytest.fixture(scope="module")
def trained() -> tuple[Any, TrainedModel]:
    frame = bars_from_returns(autocorrelated(3_000, 0.5, seed=11), seed=11)
    return frame, train_model(frame, "default", TrainingConfig(folds=2, max_rounds=60))


def saved(model: TrainedModel, settings: Any) -> Any:
    return save_model(
        model,
        data_address="sample:BTC/USDT",
        timeframe="1h",
        data_fingerprint="fingerprint-1",
        settings=settings,
    )


def test_a_saved_model_loads_and_predicts_exactly_as_when_trained(
    trained: tuple[Any, TrainedModel], database_user: Callable[..., Any]
) -> None:
    frame, model = trained
    alice = database_user("models_alice")
    record = saved(model, alice.settings)
    stored = load_model(record.id, settings=alice.settings)
    features = get_feature_set(stored.record.feature_set).compute(frame)
    before = model.predict(features).to_numpy()
    after = predict_with(
        lightgbm.Booster(model_str=stored.model_text), stored.record.feature_names, features
    ).to_numpy()
    np.testing.assert_array_equal(before, after)
    assert stored.record.config == model.config
    assert stored.record.training_end == model.training_end
    assert stored.record.scores["auc"] == pytest.approx(model.scores["auc"], rel=1e-12)
    assert len(stored.record.folds) == 2
    assert set(stored.record.importance) == set(model.feature_names)
    assert [entry.id for entry in list_models(settings=alice.settings)] == [record.id]


def test_another_users_models_are_invisible_and_untouchable(
    trained: tuple[Any, TrainedModel], database_user: Callable[..., Any]
) -> None:
    _, model = trained
    alice, bob = database_user("models_owner"), database_user("models_intruder")
    record = saved(model, alice.settings)
    assert list_models(settings=bob.settings) == []
    with pytest.raises(ModelNotFoundError, match="quantdesk models list"):
        load_model(record.id, settings=bob.settings)
    with pytest.raises(ModelNotFoundError):
        delete_model(record.id, settings=bob.settings)
    with connect(bob.url) as session:
        assert session.execute("SELECT count(*) FROM quantdesk.models").fetchone() == (0,)
        assert (
            session.execute(
                "UPDATE quantdesk.models SET artifact = NULL WHERE id = %s", (record.id,)
            ).rowcount
            == 0
        )
        assert (
            session.execute("DELETE FROM quantdesk.models WHERE id = %s", (record.id,)).rowcount
            == 0
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            session.execute(
                "INSERT INTO quantdesk.models (owner, name, kind) VALUES (%s, 'x', 'lightgbm')",
                (alice.name,),
            )
    # Alice's model is whole after all of it.
    assert load_model(record.id, settings=alice.settings).model_text == model.model_text


def test_a_removed_model_is_gone_and_a_bad_id_names_the_listing(
    trained: tuple[Any, TrainedModel], database_user: Callable[..., Any]
) -> None:
    _, model = trained
    carol = database_user("models_carol")
    record = saved(model, carol.settings)
    delete_model(record.id, settings=carol.settings)
    assert list_models(settings=carol.settings) == []
    with pytest.raises(ModelNotFoundError):
        load_model(uuid.uuid4(), settings=carol.settings)
    with pytest.raises(Exception, match="quantdesk models list"):
        load_model("not-an-id", settings=carol.settings)
