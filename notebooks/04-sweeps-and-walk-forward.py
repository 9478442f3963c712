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
# # Sweeps and walk-forward, on the cluster
#
# A parameter sweep backtests every combination of a grid; the best one looks
# better than it will trade, because it was chosen on the same bars. This
# notebook runs a sweep as a job on a Dask cluster (started for this kernel
# on demand, or your own on the hub), draws the objective as a heatmap, asks
# the two overfitting guards how much of the best result is luck, and then
# walks forward: choose on one window, trade the next, stitch the
# out-of-sample parts.

# %%
# NBVAL_IGNORE_OUTPUT
import holoviews as hv
import numpy as np

import quantdesk

hv.extension("bokeh", logo=False)
bars = quantdesk.load("sample:BTC/USDT", timeframe="1h", start="2023-01-01", end="2024-07-01")
print(f"{len(bars):,} hourly bars")

# %% [markdown]
# ## A sweep as a job
#
# `quantdesk.sweep` returns a `Job` at once; `job.wait()` shows a progress bar
# and `job.result()` the `SweepResult`. `START:STOP:STEP` includes STOP;
# combinations the strategy refuses (`fast >= slow`) are skipped and counted.
# A constraint drops combinations that trade too rarely to judge.

# %%
# NBVAL_IGNORE_OUTPUT
job = quantdesk.sweep(
    "sma_cross",
    bars,
    {"fast": "4:40:4", "slow": "24:120:12"},
    objective="sharpe",
    constraints=["n_trades >= 10"],
    commission=0.001,
    lot_size=1e-8,
    record=False,
)
job.wait()
sweep = job.result()

# %%
print(f"{len(sweep.rows)} combinations in the table, {sweep.skipped} skipped")
print("best:", sweep.best_parameters)
print({name: round(float(sweep.best_stats[name]), 3) for name in ("sharpe", "n_trades")})
sweep.rows.sort_values("sharpe", ascending=False).head(5)[
    ["fast", "slow", "sharpe", "n_trades", "total_return_pct", "max_drawdown_pct"]
]

# %% [markdown]
# Each row is a backtest; the table agrees with running the best combination
# on its own:

# %%
alone = quantdesk.backtest(
    "sma_cross", bars, **sweep.best_parameters, commission=0.001, lot_size=1e-8
)
assert np.isclose(alone.stats["sharpe"], sweep.best_stats["sharpe"])
print("the best row equals its own backtest")

# %% [markdown]
# ## The heatmap
#
# The objective over the two parameters. A lone bright cell among dark ones is
# a warning; a broad bright region is more likely to hold up.

# %%
# NBVAL_IGNORE_OUTPUT
hv.HeatMap(sweep.rows, kdims=["fast", "slow"], vdims=["sharpe"]).opts(
    cmap="RdYlGn", colorbar=True, width=560, height=400, tools=["hover"], title="Sharpe"
)

# %% [markdown]
# ## How much is luck?
#
# The *deflated Sharpe ratio* is the probability that the best combination's
# Sharpe ratio beats the best that this many trials with no skill would show;
# near 1 is convincing, well below 0.95 is not. The *probability of backtest
# overfitting* (PBO) is how often the in-sample winner lands in the bottom half
# out of sample across splits of the bars; near 0 the choice carries over,
# near 0.5 or above the sweep is picking noise.

# %%
deflated = sweep.deflated_sharpe
overfitting = sweep.overfitting
print(f"deflated Sharpe ratio: {deflated.deflated_sharpe_ratio:.3f} over {deflated.trials} trials")
print(f"probability of backtest overfitting: {overfitting.probability:.3f}")
assert 0 <= deflated.deflated_sharpe_ratio <= 1
assert 0 <= overfitting.probability <= 1

# %% [markdown]
# ## Walk forward
#
# Five folds: each chooses the best combination on its in-sample window
# (anchored: everything before it) and trades it on the next window. The
# stitched out-of-sample equity is the honest estimate.

# %%
# NBVAL_IGNORE_OUTPUT
walk = quantdesk.sweep(
    "sma_cross",
    bars,
    {"fast": "4:40:8", "slow": "24:120:24"},
    walk_forward=5,
    anchored=True,
    commission=0.001,
    lot_size=1e-8,
    record=False,
)
walk.wait()
folds = walk.result()

# %%
for fold in folds.folds:
    print(
        f"{bars.index[fold.window.out_start]:%Y-%m-%d} chose {fold.parameters}: "
        f"in-sample Sharpe {fold.in_sample_stats['sharpe']:.2f}, "
        f"out of sample {fold.out_of_sample_stats['sharpe']:.2f}"
    )
print(f"stitched out-of-sample equity: {folds.equity.iloc[-1]:,.2f} from 10,000")

# %%
# NBVAL_IGNORE_OUTPUT
hv.Curve(folds.equity, "time", "equity").opts(width=800, height=300, title="Out-of-sample equity")
