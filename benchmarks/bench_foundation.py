"""Foundation benchmarks: import time, sample generation, cache speed.

Run ``.venv/bin/python benchmarks/bench_foundation.py``; it prints a Markdown
table for the README. Every figure is the median of several runs in this
process (or of fresh subprocesses, for start-up times).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.cache import CacheKey, ParquetStore
from quantdesk.data.loader import load_bars
from quantdesk.data.sources.sample import SampleSource
from timing import median_seconds, print_markdown_table

REPEATS = 7


def fresh_process_seconds(code: str, repeats: int = REPEATS) -> float:
    """Median wall time of a fresh interpreter running ``code``."""
    return median_seconds(
        lambda: subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL),
        repeats=repeats,
    )


def main() -> None:
    """Measure and print the table."""
    rows: list[tuple[str, str, str]] = []
    bare = fresh_process_seconds("pass")
    quantdesk_import = fresh_process_seconds("import quantdesk") - bare
    pandas_import = fresh_process_seconds("import pandas") - bare
    rows.append(
        (
            "`import quantdesk` (fresh process, minus bare start-up)",
            f"{quantdesk_import * 1e3:.0f} ms",
            "target < 1 s",
        )
    )
    full_stack = (
        fresh_process_seconds("import quantdesk; quantdesk.load; quantdesk.indicators") - bare
    )
    rows.append(
        (
            "`import quantdesk` plus first use of its data layer and indicators",
            f"{full_stack * 1e3:.0f} ms",
            "mostly pandas and pyarrow",
        )
    )
    rows.append(("`import pandas`, for reference", f"{pandas_import * 1e3:.0f} ms", ""))
    cli_version = (
        fresh_process_seconds("from quantdesk.cli import main; main(['--version'])") - bare
    )
    rows.append(
        ("`quantdesk --version` start-up (minus bare start-up)", f"{cli_version * 1e3:.0f} ms", "")
    )

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.load(data_dir=Path(folder))
        source = SampleSource(settings)
        year = TimeRange.of("2024-01-01", "2025-01-01")
        first_started = time.perf_counter()
        minute_bars = source.fetch("BTC/USDT", "1m", year)
        first_call = time.perf_counter() - first_started
        warm = median_seconds(lambda: source.fetch("BTC/USDT", "1m", year))
        rate = len(minute_bars) / warm
        rows.append(
            (
                f"sample: 1 year of 1m BTC/USDT ({len(minute_bars):,} bars), first call",
                f"{first_call * 1e3:.0f} ms",
                "target well under 1 s",
            )
        )
        rows.append(("sample: same, warm", f"{warm * 1e3:.0f} ms", f"{rate / 1e6:.1f} M bars/s"))
        span = TimeRange.of("2015-01-01", "2026-01-01")
        daily = median_seconds(lambda: source.fetch("SPY", "1d", span))
        rows.append(("sample: 11 years of 1d SPY", f"{daily * 1e3:.0f} ms", ""))
        hourly = median_seconds(lambda: source.fetch("AAPL", "1h", year))
        rows.append(("sample: 1 year of 1h AAPL", f"{hourly * 1e3:.0f} ms", ""))

        store = ParquetStore(Path(folder) / "bench-cache")
        key = CacheKey("sample", "BTC/USDT", Timeframe.parse("1m"))
        write = median_seconds(
            lambda: (store.remove(key), store.save(key, minute_bars, year)), repeats=3
        )
        rows.append(("cache: write 1 year of 1m bars", f"{write * 1e3:.0f} ms", ""))
        read = median_seconds(lambda: store.load(key, year))
        files = sorted(store.path(key).rglob("*.parquet"))
        plain = median_seconds(lambda: pd.concat([pd.read_parquet(file) for file in files]))
        rows.append(
            (
                "cache: read 1 year of 1m bars",
                f"{read * 1e3:.0f} ms",
                f"{read / plain:.2f}x plain `pd.read_parquet` of the same files",
            )
        )
        month = TimeRange.of("2024-06-01", "2024-07-01")
        read_month = median_seconds(lambda: store.load(key, month))
        rows.append(
            (
                "cache: read 1 month of it",
                f"{read_month * 1e3:.1f} ms",
                f"{read_month / read:.2f}x the full year",
            )
        )

        load_bars(
            "sample:BTC/USDT",
            timeframe="1h",
            start="2024-01-01",
            end="2024-03-01",
            settings=settings,
        )
        hit = median_seconds(
            lambda: load_bars(
                "sample:BTC/USDT",
                timeframe="1h",
                start="2024-01-01",
                end="2024-03-01",
                settings=settings,
            )
        )
        rows.append(("`load_bars` full cache hit, 2 months of 1h", f"{hit * 1e3:.1f} ms", ""))

    print_markdown_table(rows)


if __name__ == "__main__":
    main()
