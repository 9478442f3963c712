# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (quantdesk)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Predictions: train, evaluate out of sample, trade, reuse
#
# quantdesk trains LightGBM models walk-forward: each fold fits on the past,
# stops early on a validation block, and predicts a test block that no label
# it saw reaches. Those out-of-sample predictions are the only ones a strategy
# may trade. This notebook trains on the cluster, reads the scores, backtests
# `ml_predictive` on them, and shows `quantdesk.predict` reusing the cached
# model. It needs a database (`quantdesk up`, or `QUANTDESK_DATABASE_URL`).

# %%
import quantdesk
from quantdesk.learning import TrainingConfig

SPAN = {"timeframe": "1h", "start": "2022-01-01", "end": "2024-01-01"}
bars = quantdesk.load("sample:BTC/USDT", **SPAN)
config = TrainingConfig(horizon=4, folds=4)
print(f"{len(bars):,} hourly bars; label: up or down over the next {config.horizon} bars")

# %% [markdown]
# ## Train on the cluster
#
# `quantdesk.train` is a job like a sweep: each fold is a task, so progress
# moves fold by fold. With a database the model is registered when the job
# completes.

# %%
# NBVAL_IGNORE_OUTPUT
job = quantdesk.train("sample:BTC/USDT", config=config, **SPAN)
job.wait()
model = job.result()

# %% [markdown]
# ## Out of sample
#
# Per fold: where it tested, the boosting rounds early stopping kept, and the
# test block's scores. The sample market is built without a predictable edge,
# so an honest model scores an AUC near 0.5 here; a model that scored much
# better on data like this would be leaking the future.

# %%
for fold in model.folds:
    print(
        f"fold {fold.fold}: test {fold.test_start:%Y-%m-%d} to {fold.test_end:%Y-%m-%d}, "
        f"{fold.rounds} rounds, AUC {fold.scores['auc']:.3f}, "
        f"accuracy {fold.scores['accuracy']:.3f}"
    )
print({name: round(score, 3) for name, score in model.scores.items()})
assert 0.4 < model.scores["auc"] < 0.6

# %%
# NBVAL_IGNORE_OUTPUT
model.importance.head(8)

# %% [markdown]
# Predictions exist only where a fold tested; the first fold's training span
# has none, so it can never be traded on:

# %%
out_of_sample = model.out_of_sample
first = out_of_sample.first_valid_index()
print(f"{out_of_sample.notna().sum():,} out-of-sample predictions, the first at {first}")
assert out_of_sample.loc[:first].iloc[:-1].isna().all()

# %% [markdown]
# ## Trade them
#
# `ml_predictive` goes long when the probability of an up move passes `entry`
# and exits below `exit`. Given the model's out-of-sample predictions it trades
# only those; given none, `quantdesk.backtest("ml_predictive", ...)` trains a
# model walk-forward on the bars first.

# %%
from quantdesk.strategies.ml_predictive import MlPredictive

strategy = MlPredictive(predictions=out_of_sample, entry=0.55, exit=0.5)
result = quantdesk.backtest(strategy, bars, commission=0.001, lot_size=1e-8)
print(result)
assert (result.trades["entry_time"] > first).all()

# %% [markdown]
# ## Predict, with the cached model
#
# `quantdesk.predict` looks for a registered model trained on the same data,
# features and parameters whose training bars are unchanged and not too old;
# it reuses it (through an in-process cache) or trains one. The job above
# registered one, so this reuses it.

# %%
# NBVAL_IGNORE_OUTPUT
report = quantdesk.predict("sample:BTC/USDT", config=config, bars=3, **SPAN)
print("trained" if report.trained else "reused", report.model_id, f"in {report.seconds:.3f} s")
report.latest

# %%
again = quantdesk.predict("sample:BTC/USDT", config=config, **SPAN)
assert not report.trained
assert not again.trained
assert again.model_id == report.model_id
stored = quantdesk.get_model(report.model_id)
assert stored.model_text == model.model_text
print("reused the model the training job registered, with the same text")

# %% [markdown]
# Remove the model this notebook trained (and the predictions it made):

# %%
quantdesk.remove_model(report.model_id)
print("removed:", report.model_id not in {record.id for record in quantdesk.list_models()})
