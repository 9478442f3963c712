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
# # Saved runs, comparing them, and API keys
#
# Backtests saved to the database, listed, loaded back identical and compared
# side by side; an API key stored in the encrypted vault and read back by its
# owner only.
#
# Run `quantdesk up` once first: it starts the local database and gives you a
# database user (on a shared hub your server is given its own connection).
# Everything here runs as your own database role: row-level security in
# PostgreSQL, not this notebook, keeps other users' runs and keys away.

# %%
# NBVAL_IGNORE_OUTPUT
import holoviews as hv
import pandas as pd

import quantdesk

hv.extension("bokeh", logo=False)
bars = quantdesk.load("sample:BTC/USDT", timeframe="1h", start="2024-01-01", end="2024-07-01")

# %% [markdown]
# ## Save runs
#
# `result.save()` keeps a run: its parameters, rules, data address and
# fingerprint, stats, trades and equity.

# %%
# NBVAL_IGNORE_OUTPUT
runs = {}
for fast, slow in [(10, 30), (20, 60), (40, 120)]:
    result = quantdesk.backtest(
        "sma_cross", bars, fast=fast, slow=slow, commission=0.001, lot_size=1e-8
    )
    runs[f"sma {fast}/{slow}"] = result.save(name=f"notebook: sma_cross {fast}/{slow}")
for name, saved in runs.items():
    print(f"saved {name} as {saved.id}")

# %% [markdown]
# Your runs, newest first (the newest 100 unless you pass `limit`):

# %%
# NBVAL_IGNORE_OUTPUT
for listed in quantdesk.list_runs(limit=5):
    print(
        f"{listed.created_at:%Y-%m-%d %H:%M}  {listed.name or listed.strategy:<30} "
        f"{listed.trade_count:>5} trades  {listed.final_equity:>12,.2f}"
    )

# %% [markdown]
# A saved run loads back as the result it was, with identical stats, trades and
# equity:

# %%
first = quantdesk.load_run(runs["sma 10/30"].id)
again = quantdesk.backtest("sma_cross", bars, fast=10, slow=30, commission=0.001, lot_size=1e-8)
pd.testing.assert_series_equal(first.equity, again.equity)
pd.testing.assert_frame_equal(first.trades, again.trades)
print("reloaded stats identical:", first.stats.equals(again.stats))
print(f"{first.stats['n_trades']} trades, final equity {first.stats['final_equity']:,.2f}")

# %% [markdown]
# ## Compare runs
#
# Stats side by side, one column a run, and the equity curves on one chart.

# %%
loaded = {name: quantdesk.load_run(saved.id) for name, saved in runs.items()}
shown = ["total_return_pct", "sharpe", "max_drawdown_pct", "n_trades", "win_rate_pct"]
comparison = pd.DataFrame({name: run.stats[shown] for name, run in loaded.items()})
comparison

# %%
# NBVAL_IGNORE_OUTPUT
hv.Overlay(
    [hv.Curve(run.equity, "time", "equity", label=name) for name, run in loaded.items()]
).opts(width=800, height=320, legend_position="top_left", title="Equity of the saved runs")

# %% [markdown]
# ## An API key in the vault
#
# The key goes into the vault encrypted by the database; its repr never shows
# the secret, and only you can read it back (the same as
# `quantdesk keys add demo --key-id ...` in a terminal). Every read is audited.

# %%
quantdesk.add_api_key("demo", "DEMO0KEY0ID0123456789", "demo-secret-not-a-real-one", replace=True)
for info in quantdesk.list_api_keys():
    print(info.provider, info.label, info.hint)
key = quantdesk.get_api_key("demo")
print(key)
print("secret length:", len(key.secret))

# %% [markdown]
# Clean up what this notebook stored:

# %%
quantdesk.remove_api_key("demo")
for saved in runs.values():
    quantdesk.remove_run(saved.id)
print("removed the demo key and", len(runs), "runs")
