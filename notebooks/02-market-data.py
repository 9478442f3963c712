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
# # Market data: exchanges, brokers, Yahoo and the cache
#
# Every source sits behind one address, `SOURCE:SYMBOL`, and every load goes
# through a Parquet cache. This notebook keeps its API keys in the vault, loads
# from ccxt (crypto exchanges), Alpaca (US stocks and crypto) and yfinance when
# the machine is online, and falls back to the built-in `sample` markets, with
# a note, when it is not. It needs a database for the vault: run
# `quantdesk up` first, or set `QUANTDESK_DATABASE_URL`.

# %%
import socket

import quantdesk
from quantdesk.api.data import list_sources
from quantdesk.errors import SourceError

for source in list_sources():
    print(f"{source.name:>9}: {source.description}")

# %% [markdown]
# ## Keys live in the vault
#
# `add_api_key` encrypts the key in the database, as yours alone (row-level
# security: no other user can read, change or even count it). Sources find
# the key with the `default` label by provider name; the environment
# (`ALPACA_API_KEY_ID`, ...) wins when set. Listing shows hints, never the
# secret. Your own key goes in with `quantdesk.add_api_key("alpaca", KEY_ID,
# SECRET)`; the placeholder here has a label of its own, so it never replaces
# yours.

# %%
quantdesk.add_api_key(
    "alpaca", "PKDEMO0000000000000", "placeholder-not-a-secret", label="notebook", replace=True
)
for key in quantdesk.list_api_keys():
    if key.label == "notebook":
        print(key.provider, key.label, key.hint)

# %% [markdown]
# ## Online, or the built-in markets
#
# Each provider is tried only when its host answers; offline (as in CI) the
# same calls run on the `sample` source, which generates realistic bars for a
# few crypto pairs and stocks, the same every time.

# %%
# NBVAL_IGNORE_OUTPUT
PROVIDERS = {
    "ccxt:binance:BTC/USDT": ("api.binance.com", "sample:BTC/USDT"),
    "alpaca:AAPL": ("data.alpaca.markets", "sample:AAPL"),
    "yfinance:MSFT": ("query1.finance.yahoo.com", "sample:MSFT"),
}


def reachable(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        return False
    return True


loaded = {}
for address, (host, fallback) in PROVIDERS.items():
    chosen = address if reachable(host) else fallback
    try:
        loaded[address] = quantdesk.load(
            chosen, timeframe="1d", start="2024-01-01", end="2024-04-01"
        )
    except SourceError as error:  # e.g. a placeholder key refused by Alpaca
        print(f"{address}: {error}; using {fallback}")
        chosen = fallback
        loaded[address] = quantdesk.load(
            chosen, timeframe="1d", start="2024-01-01", end="2024-04-01"
        )
    note = "" if chosen == address else f"  (offline: built-in {fallback})"
    print(f"{address:>22}: {len(loaded[address])} daily bars{note}")

# %%
for address, frame in loaded.items():
    assert quantdesk.validate_ohlcv(frame).equals(frame), address
    assert len(frame) > 50, address
print("every provider gave canonical daily bars")

# %% [markdown]
# ## The cache
#
# The first load asked the source; asking again for the same range is answered
# from Parquet without calling it, and a wider range fetches only the new part.
# `load_bars` says how each load was served.

# %%
from quantdesk.data.loader import load_bars

first = load_bars("sample:ETH/USDT", timeframe="1h", start="2024-01-01", end="2024-02-01")
again = load_bars("sample:ETH/USDT", timeframe="1h", start="2024-01-01", end="2024-02-01")
wider = load_bars("sample:ETH/USDT", timeframe="1h", start="2024-01-01", end="2024-03-01")
print("first load cache hit:", first.cache_hit)
print("second load cache hit:", again.cache_hit)
print("wider load bars:", len(wider.frame), "of which new:", len(wider.frame) - len(first.frame))
assert again.frame.equals(first.frame)

# %%
# NBVAL_IGNORE_OUTPUT
cached = quantdesk.list_cached_series()
for series in cached:
    print(series.key.source, series.key.symbol, series.key.timeframe, f"{series.rows:,} rows")
assert any(series.key.symbol == "ETH/USDT" and series.rows == 1440 for series in cached)

# %% [markdown]
# ## Resampling and gaps
#
# Coarser bars come from finer ones. `gap_report` lists every stretch without
# bars: for a stock, its market's nights and weekends (17 and 65 hours here),
# and anything longer that would hint at missing data.

# %%
daily = quantdesk.resample_ohlcv(wider.frame, "1d", source_timeframe="1h")
print(len(daily), "daily bars from", len(wider.frame), "hourly ones")
stock = quantdesk.load("sample:AAPL", timeframe="1h", start="2024-01-01", end="2024-02-01")
gaps = quantdesk.gap_report(stock, "1h")
gaps.head(3)

# %% [markdown]
# ## Indicators and patterns on the bars
#
# Indicators are TA-Lib's, taking the frame and returning series or frames on
# its index with readable names; patterns are TA-Lib's candlesticks by name and
# chart patterns (levels, double tops and bottoms, head-and-shoulders).

# %%
from quantdesk import indicators, patterns

bars = wider.frame
overview = bars[["close"]].join(
    [
        indicators.ema(bars, 50),
        indicators.rsi(bars, 14),
        indicators.atr(bars, 14),
        indicators.bollinger_bands(bars, 20),
    ]
)
overview.dropna().tail(3)

# %%
candles = patterns.candlestick_patterns(bars, ["engulfing", "hammer", "shooting_star", "doji"])
(candles != 0).sum()

# %%
levels = patterns.find_levels(daily, order=3, tolerance=0.02)
tops = patterns.find_double_tops(bars, order=10)
bottoms = patterns.find_double_bottoms(bars, order=10)
shoulders = patterns.find_head_and_shoulders(bars, order=10)
print(len(levels), "levels,", len(tops), "double tops,", len(bottoms), "double bottoms,")
print(len(shoulders), "head-and-shoulders")
patterns.levels_to_frame(levels).head(3)

# %% [markdown]
# Clean up the placeholder key:

# %%
quantdesk.remove_api_key("alpaca", label="notebook")
print("placeholder removed:", all(key.label != "notebook" for key in quantdesk.list_api_keys()))
