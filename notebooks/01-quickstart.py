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
# # Quickstart: a first backtest
#
# quantdesk ships with built-in sample markets, so this notebook runs offline.
# It loads hourly bars, backtests a moving-average crossover, plots the run, and
# reads its statistics. Every step is one call into the `quantdesk` library.

# %%
import numpy as np

import quantdesk

bars = quantdesk.load("sample:BTC/USDT", timeframe="1h", start="2024-01-01", end="2024-07-01")
print(f"{len(bars):,} hourly bars from {bars.index[0]:%Y-%m-%d} to {bars.index[-1]:%Y-%m-%d}")
bars.head(3)

# %% [markdown]
# ## A backtest
#
# `quantdesk.backtest` takes a strategy by name, the bars, and keywords that are
# either engine options (`commission`, `lot_size`) or strategy parameters
# (`fast`, `slow`). Crypto trades in fractions of a coin, so `lot_size=1e-8`;
# with the default lot of 1 the 10,000 of cash could not buy a whole bitcoin.

# %%
result = quantdesk.backtest("sma_cross", bars, fast=12, slow=48, commission=0.001, lot_size=1e-8)
result

# %% [markdown]
# ## The picture
#
# Price with the trades marked, the equity curve and the drawdown, as interactive
# holoviews plots (downsampled for display, so long series stay responsive).

# %%
# NBVAL_IGNORE_OUTPUT
result.plot()

# %% [markdown]
# ## Reading the statistics
#
# `result.stats` is a Series of named statistics. Returns are measured on the
# last equity of each day; the Sharpe ratio is annualised with 365 periods a
# year because this market trades at weekends.

# %%
shown = ["total_return_pct", "cagr_pct", "sharpe", "max_drawdown_pct", "n_trades", "win_rate_pct"]
for name in shown:
    value = result.stats[name]
    print(f"{name:>18}: {value:,.2f}" if isinstance(value, float) else f"{name:>18}: {value}")

# %% [markdown]
# The figures can be checked by hand from the equity curve: the total return is
# the last equity over the starting cash, and the maximum drawdown the deepest
# fall from a running peak.

# %%
equity = result.equity.to_numpy()
total_return = (equity[-1] / 10_000 - 1) * 100
drawdown = (equity / np.maximum.accumulate(equity) - 1) * 100
assert np.isclose(result.stats["total_return_pct"], total_return)
assert np.isclose(result.stats["max_drawdown_pct"], drawdown.min())
assert result.stats["n_trades"] == len(result.trades)
print("total return and drawdown agree with the equity curve")

# %% [markdown]
# ## The trades
#
# One row per closed trade: when and at what price it opened and closed, its
# size, profit and why it closed.

# %%
result.trades[["entry_time", "exit_time", "entry_price", "exit_price", "pnl", "exit_reason"]].head()

# %% [markdown]
# Next: `02-market-data` for real markets and the cache, `03-write-a-strategy`
# for your own strategies.
