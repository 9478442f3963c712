"""A backtest imports only what it needs: no storage, network, UI or unused data layer.

Each check runs in a fresh interpreter and reads ``sys.modules`` after the
call, so what the call imported, directly or through the package's lazy
attributes, is all there. Time is measured in ``benchmarks/`` only; these
tests fail on an import, however fast it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NEVER_FOR_A_BACKTEST = (
    # quantdesk's own storage, charts and command line
    "quantdesk.store",
    "quantdesk.charts",
    "quantdesk.cli",
    # storage
    "sqlalchemy",
    "psycopg",
    "alembic",
    # network and providers
    "requests",
    "urllib3",
    "aiohttp",
    "ccxt",
    "alpaca",
    "yfinance",
    # UI
    "holoviews",
    "hvplot",
    "bokeh",
    "panel",
    "tornado",
    "click",
    # models and clusters
    "lightgbm",
    "dask",
    "distributed",
)
"""Modules that no backtest needs, whatever its data."""

NOT_FOR_A_FRAME = (
    # settings and the data layer: the frame is already in memory
    "quantdesk.config",
    "quantdesk.data",
    "quantdesk.synthetic",
    "pydantic_settings",
    "platformdirs",
    "dotenv",
    "filelock",
    "pyarrow.parquet",
    # a backtest reads no patterns
    "quantdesk.patterns",
)
"""Modules that a backtest of a frame given in memory does not need either."""

OTHER_SOURCES = (
    "quantdesk.data.sources.csv",
    "quantdesk.data.sources.yfinance_source",
    "quantdesk.data.sources.alpaca_source",
    "quantdesk.data.sources.ccxt_source",
    "quantdesk.data.credentials",
)
"""The modules of the installed sources other than ``sample``, and their key lookup."""

BACKTEST_OF_A_FRAME = """
import numpy as np
import quantdesk
from tests.frames import bars_from_closes

closes = 100 + np.cumsum(np.random.default_rng(7).normal(0, 1, 300))
result = quantdesk.backtest("sma_cross", bars_from_closes(closes), fast=5, slow=20)
assert result.stats["n_trades"] > 0
"""

BACKTEST_OF_SAMPLE_BARS = """
import quantdesk

result = quantdesk.backtest(
    "sma_cross", "sample:BTC/USDT", timeframe="1h", start="2024-01-01", end="2024-02-01",
    fast=5, slow=20, lot_size=1e-8,
)
assert result.stats["n_trades"] > 0
"""


def loaded_after(code: str, watched: tuple[str, ...]) -> list[str]:
    """The modules of ``watched`` (or below them) loaded once ``code`` has run afresh."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"watched = {watched!r}\n"
        "print(json.dumps(sorted(name for name in sys.modules "
        "if name in watched or name.startswith(tuple(w + '.' for w in watched)))))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    found: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return found


def test_a_backtest_of_a_frame_imports_no_settings_data_storage_network_or_ui() -> None:
    assert loaded_after(BACKTEST_OF_A_FRAME, NEVER_FOR_A_BACKTEST + NOT_FOR_A_FRAME) == []


def test_a_backtest_of_sample_bars_imports_only_the_sample_source() -> None:
    assert loaded_after(BACKTEST_OF_SAMPLE_BARS, NEVER_FOR_A_BACKTEST + OTHER_SOURCES) == []


def test_a_backtest_of_cached_sample_bars_neither_generates_nor_locks() -> None:
    loaded_after(BACKTEST_OF_SAMPLE_BARS, ())

    cache_hit = loaded_after(BACKTEST_OF_SAMPLE_BARS, ("quantdesk.synthetic.generator", "filelock"))

    assert cache_hit == []
