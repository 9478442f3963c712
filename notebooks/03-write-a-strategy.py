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
# # Write a strategy
#
# A strategy is a class: typed parameters with bounds, and a `_signals` method
# that decides entries and exits on each bar's close, all bars at once. This
# notebook writes one, backtests it, packages the same class so `quantdesk`
# finds it by name in any process, and ends with a per-bar strategy for logic
# that depends on its own history.

# %%
import json
import linecache
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import quantdesk
from quantdesk import indicators
from quantdesk.strategies import Parameter, Signals, Strategy, crossed_above, crossed_below

bars = quantdesk.load("sample:ETH/USDT", timeframe="1h", start="2024-01-01", end="2024-07-01")

# %% [markdown]
# ## A vectorised strategy
#
# Go long when the close breaks above the highest high of the last `lookback`
# bars while RSI shows momentum, and leave when the close falls back below its
# `exit_average`-bar mean. `Parameter` gives each parameter a default, bounds
# and a description; `validate` refuses combinations that make no sense.


# %%
class MomentumBreakout(Strategy):
    """Long on a breakout with RSI momentum; out below a moving average."""

    name = "momentum_breakout"
    description = "Long on a lookback-high breakout with RSI above a floor."
    columns = ("high", "close")

    lookback = Parameter(48, minimum=2, maximum=1_000, description="bars in the breakout high")
    rsi_floor = Parameter(55.0, minimum=0.0, maximum=100.0, description="RSI needed to enter")
    exit_average = Parameter(24, minimum=2, description="bars in the exit average")

    @property
    def minimum_bars(self) -> int:
        return max(self.lookback, self.exit_average) + 1

    def _signals(self, frame: pd.DataFrame) -> Signals:
        close = frame["close"]
        previous_high = frame["high"].rolling(self.lookback).max().shift(1)
        momentum = indicators.rsi(frame, 14) > self.rsi_floor
        average = indicators.sma(frame, self.exit_average)
        return Signals.from_series(
            long_entries=crossed_above(close, previous_high) & momentum.to_numpy(),
            long_exits=crossed_below(close, average),
        )


# %%
result = quantdesk.backtest(MomentumBreakout, bars, commission=0.001, lot_size=1e-8)
print(result)
print({name: round(float(result.stats[name]), 3) for name in ("sharpe", "max_drawdown_pct")})

# %% [markdown]
# A class with a `name` registers itself, so the name works too, parameters
# included, and bounds are enforced in one line that names the fix:

# %%
tighter = quantdesk.backtest(
    "momentum_breakout", bars, lookback=96, rsi_floor=60, commission=0.001, lot_size=1e-8
)
print(tighter.parameters, tighter.stats["n_trades"], "trades")
try:
    quantdesk.backtest("momentum_breakout", bars, lookback=1, lot_size=1e-8)
except quantdesk.errors.InvalidInputError as error:
    print("refused:", error)

# %% [markdown]
# The signals can be checked by hand: every trade opens on the bar after one
# whose close crossed above the previous `lookback`-bar high.

# %%
high = bars["high"].rolling(48).max().shift(1).to_numpy()
close = bars["close"].to_numpy()
crossed = np.flatnonzero((close[1:] > high[1:]) & (close[:-1] <= high[:-1])) + 1
entry_bars = result.trades["entry_bar"].to_numpy()
assert set(entry_bars - 1) <= set(crossed)
print(f"all {len(entry_bars)} entries follow a breakout bar")

# %% [markdown]
# ## Packaged with an entry point
#
# To share a strategy, put the class in a package and declare it in the
# package's `pyproject.toml`:
#
# ```toml
# [project.entry-points."quantdesk.strategies"]
# momentum_breakout = "desk_strategies:MomentumBreakout"
# ```
#
# Once installed (`pip install -e .`), every process finds it by name: `quantdesk
# strategies` lists it and `quantdesk backtest momentum_breakout ...` runs it.
# Here the package is written to a temporary folder with the metadata an
# installation leaves (a `.dist-info` folder with `entry_points.txt`), and a new
# process, whose path includes that folder, lists it. Installed strategies are
# read when a process starts, so a kernel sees a new one after a restart.

# %%
folder = Path(tempfile.mkdtemp())
# The module is the cell above that defined the class (IPython keeps each cell's
# text for tracebacks), after the imports it needs.
class_cell = "".join(linecache.getlines(MomentumBreakout._signals.__code__.co_filename))
imports = """import pandas as pd

from quantdesk import indicators
from quantdesk.strategies import Parameter, Signals, Strategy, crossed_above, crossed_below


"""
source = imports + class_cell
(folder / "desk_strategies.py").write_text(source)
metadata = folder / "desk_strategies-0.1.dist-info"
metadata.mkdir()
(metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: desk-strategies\nVersion: 0.1\n")
(metadata / "entry_points.txt").write_text(
    '[quantdesk.strategies]\nmomentum_breakout = "desk_strategies:MomentumBreakout"\n'.replace(
        '"', ""
    )
)
quantdesk_command = str(Path(sys.executable).parent / "quantdesk")
environment = {**os.environ, "PYTHONPATH": str(folder)}
listing = subprocess.run(
    [quantdesk_command, "strategies", "--json"],
    capture_output=True,
    text=True,
    check=True,
    env=environment,
)
names = [strategy["name"] for strategy in json.loads(listing.stdout)]
print("a new process lists:", ", ".join(names))
assert "momentum_breakout" in names

# %% [markdown]
# and backtests it by name from the command line, with the same result as the
# class defined in this notebook:

# %%
words = ["backtest", "momentum_breakout", "--data", "sample:ETH/USDT", "-t", "1h"]
words += ["--start", "2024-01-01", "--end", "2024-07-01", "--commission", "0.001"]
words += ["--lot-size", "1e-8", "--json"]
run = subprocess.run(
    [quantdesk_command, *words], capture_output=True, text=True, check=True, env=environment
)
packaged = json.loads(run.stdout)["stats"]
assert packaged["n_trades"] == result.stats["n_trades"]
assert np.isclose(packaged["final_equity"], result.stats["final_equity"])
print(
    "the packaged strategy:", packaged["n_trades"], "trades, final equity", packaged["final_equity"]
)

# %% [markdown]
# ## A per-bar strategy
#
# Some rules depend on what the strategy itself did: "exit after `hold` bars",
# "only one entry a day". `PerBarStrategy` runs a numba step once per bar in a
# compiled loop; the step sees the bars so far, the parameters, a state array
# that carries over, and the side it holds, and returns flags.

# %%
import numba

from quantdesk.strategies import LONG_ENTRY, LONG_EXIT, NO_SIGNAL, PerBarStrategy


@numba.njit(cache=True)
def timed_breakout_step(bar, inputs, parameters, state, side):
    close, previous_high = inputs[0], inputs[1]
    hold = parameters[1]
    if side == 1:
        state[0] += 1
        return LONG_EXIT if state[0] >= hold else NO_SIGNAL
    if close[bar] > previous_high[bar]:
        state[0] = 0
        return LONG_ENTRY
    return NO_SIGNAL


class TimedBreakout(PerBarStrategy):
    """Long on a breakout above the previous high, out after a fixed number of bars."""

    name = "timed_breakout"
    description = "Long on a lookback-high breakout, out after `hold` bars."
    columns = ("high", "close")

    lookback = Parameter(48, minimum=2)
    hold = Parameter(12, minimum=1)
    state_size = 1
    bar_step = timed_breakout_step

    @property
    def minimum_bars(self) -> int:
        return self.lookback + 1

    def bar_inputs(self, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        return frame["close"], frame["high"].rolling(self.lookback).max().shift(1)


timed = quantdesk.backtest("timed_breakout", bars, hold=12, commission=0.001, lot_size=1e-8)
held = (timed.trades["exit_bar"] - timed.trades["entry_bar"]).unique()
print(timed)
print("bars held per trade:", sorted(int(bars_held) for bars_held in held))
assert set(held) <= {12}
