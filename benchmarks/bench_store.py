"""Saved-run benchmarks: listing one user's runs among many, saving and loading a big run.

Run ``.venv/bin/python benchmarks/bench_store.py``; it starts a private
PostgreSQL in a temporary directory (quantdesk's embedded server, its default
settings), migrates it, fills it, measures, prints a Markdown table for the
README and deletes the server. Figures are medians of repeated runs in this
process, through the library's public functions, connecting as an ordinary
user under row-level security.

- Listing: 100,000 saved runs among 10 users, 10,000 of them the measured
  user's, created over a year. Only ``quantdesk.backtests`` is filled for
  them (listing reads nothing else), by one ``INSERT ... SELECT`` per user
  as that user (PostgreSQL refuses ``COPY FROM`` into tables with row-level
  security), then ``ANALYZE``.
- Vault: storing (with ``replace=True``) and reading one API key as that
  user, through ``add_api_key`` and ``get_api_key``.
- Saving and loading: the engine benchmark's single run, ``sma_cross`` 10/20
  long/short on the first 1,000,000 one-minute ``sample:BTC/USDT`` bars from
  2023-01-01 (always in the market, so every equity point differs; about
  54,000 trades).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

import psycopg
from sqlalchemy import URL

import quantdesk
from private_database import private_database
from quantdesk.store.run_codec import (
    decode_equity,
    decode_trades,
    encode_equity,
    encode_trades,
    encode_values,
)
from quantdesk.store.runs import list_runs, load_run, save_run
from quantdesk.store.users import add_user
from quantdesk.store.vault import add_api_key, get_api_key
from timing import median_seconds, print_markdown_table

REPEATS = 9
USERS = 10
RUNS_PER_USER = 10_000
BARS = 1_000_000
LIST_TARGET_SECONDS = 0.020
SAVE_TARGET_SECONDS = 0.200
LOAD_TARGET_SECONDS = 0.100


def timed(action: Callable[[], object]) -> float:
    """Median wall time of ``action`` over :data:`REPEATS` runs, after one warm-up run."""
    return median_seconds(action, REPEATS, warm_up=True)


def libpq(url: URL) -> str:
    """A SQLAlchemy URL as a libpq connection string."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def fill_runs(user_url: URL, count: int, stats: str) -> None:
    """Insert ``count`` listing-ready runs as the user, created over the past year."""
    with psycopg.connect(libpq(user_url), autocommit=True) as session:
        session.execute(
            "INSERT INTO quantdesk.backtests (name, strategy, source, symbol, timeframe, "
            "start_time, end_time, parameters, config, stats, data_fingerprint, engine_version, "
            "bar_count, trade_count, final_equity, created_at) "
            "SELECT 'run ' || g, 'sma_cross', 'sample', 'BTC/USDT', '1h', "
            "timestamptz '2023-01-01', timestamptz '2024-01-01', "
            "jsonb_build_object('fast', 10, 'slow', 20 + g %% 50), '{}'::jsonb, %s::jsonb, "
            "md5(g::text), '1', 8760, g %% 300, 10000 + g, "
            "now() - g * interval '1 second' * (31536000 / %s) "
            "FROM generate_series(1, %s) AS g",
            (stats, count, count),
        )


def row(name: str, seconds: float, note: str = "") -> tuple[str, str, str]:
    """One table row, the time in milliseconds."""
    return name, f"{seconds * 1e3:.1f} ms", note


def verdict(seconds: float, target: float) -> str:
    """``target ≤ N ms: met`` or ``missed``."""
    met = "met" if seconds <= target else "**missed**"
    return f"target ≤ {target * 1e3:.0f} ms: {met}"


def main() -> None:
    """Start a server, fill it, measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 100,000 bars, fewer runs"
    )
    arguments = parser.parse_args()
    bars = 100_000 if arguments.quick else BARS
    runs_per_user = 1_000 if arguments.quick else RUNS_PER_USER

    with private_database("quantdesk-bench-store-") as database:
        server = database.server
        users = [add_user(server.admin_url(), f"bench_{number}") for number in range(USERS)]
        measured = database.settings_for(users[0].revealed_url())

        frame = quantdesk.load(
            "sample:BTC/USDT",
            timeframe="1m",
            start="2023-01-01",
            end="2025-01-01",
            settings=measured,
        ).iloc[:bars]
        result = quantdesk.backtest(
            "sma_cross", frame, fast=10, slow=20, short=True, cash=1e7, commission=1e-5
        )
        stats = json.dumps(encode_values(dict(result.stats)))
        started = time.perf_counter()
        for user in users:
            fill_runs(user.database_url, runs_per_user, stats)
        with psycopg.connect(libpq(server.superuser_url()), autocommit=True) as session:
            session.execute("ANALYZE quantdesk.backtests")
        filled = time.perf_counter() - started

        everything = timed(lambda: list_runs(limit=None, settings=measured))
        newest = timed(lambda: list_runs(settings=measured))
        listed = len(list_runs(limit=None, settings=measured))

        equity_bytes = encode_equity(result.equity)
        trades_bytes = encode_trades(result.trades)
        encode = timed(lambda: (encode_equity(result.equity), encode_trades(result.trades)))
        decode = timed(lambda: (decode_equity(equity_bytes), decode_trades(trades_bytes)))
        saved_ids = []
        save = timed(lambda: saved_ids.append(save_run(result, settings=measured).id))
        load = timed(lambda: load_run(saved_ids[-1], settings=measured))
        key_id, secret = "AKBENCHMARKKEYID0001", "sk-" + "0123456789abcdef" * 4
        store_key = timed(
            lambda: add_api_key("binance", key_id, secret, replace=True, settings=measured)
        )
        read_key = timed(lambda: get_api_key("binance", settings=measured))

    total = USERS * runs_per_user
    megabytes = (len(equity_bytes) + len(trades_bytes)) / 1e6
    rows = [
        row(
            f"list one user's {listed:,} runs among {total:,}",
            everything,
            verdict(everything, LIST_TARGET_SECONDS),
        ),
        row("list the newest 100 of them (the default)", newest, ""),
        row(
            f"save a run with a {len(result.equity):,}-point equity curve and "
            f"{len(result.trades):,} trades",
            save,
            verdict(save, SAVE_TARGET_SECONDS),
        ),
        row("load it back", load, verdict(load, LOAD_TARGET_SECONDS)),
        row(
            "of which encoding (equity and trades as Parquet)",
            encode,
            f"{megabytes:.1f} MB: equity {len(equity_bytes) / 1e6:.1f} MB, "
            f"trades {len(trades_bytes) / 1e6:.1f} MB",
        ),
        row("of which decoding", decode, ""),
        row("store an API key in the vault (replacing it)", store_key, ""),
        row("read it back (decrypted, audited)", read_key, ""),
    ]
    load_average = os.getloadavg()[0]
    print(
        f"{total:,} runs filled in {filled:.1f} s; {os.cpu_count()} CPUs, "
        f"1-minute load average {load_average:.2f} at the end."
    )
    print()
    print_markdown_table(rows)


if __name__ == "__main__":
    main()
