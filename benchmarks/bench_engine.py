"""Engine benchmark: ``sma_cross`` on 1,000,000 minute bars against vectorbt and backtesting.py.

Run ``.venv/bin/python benchmarks/bench_engine.py`` (a few minutes) or add
``--quick`` for a smoke run on 50,000 bars and 6 combinations (about a
minute). It needs the ``bench`` extra (``vectorbt``, ``backtesting``). It
prints Markdown tables for the README: times, ratios and peak memory; the
targets; and how closely the three libraries agree.

Every case runs in a fresh interpreter that loads the same bars from a
temporary file, warms up (numba compilation or cache loading) on a slice,
then times its runs; its peak resident memory (``ru_maxrss``) is its own,
so cases do not contaminate each other. Ratios compare figures from the same
invocation. See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine_peers import (
    Outcome,
    TradingRules,
    backtesting_frame,
    backtesting_simulate,
    backtesting_sma_cross,
    reference_sma_cross_signals,
    sweep_combinations,
    vectorbt_frame,
    vectorbt_outcome,
    vectorbt_simulate,
    vectorbt_sma_cross,
    vectorbt_sweep,
)
from quantdesk.config import Settings
from quantdesk.core.time_range import TimeRange
from quantdesk.data.sources.sample import SampleSource

SYMBOL = "BTC/USDT"
FIRST_BAR = pd.Timestamp("2023-01-01", tz="UTC")
RULES = TradingRules(cash=10_000_000.0, commission=0.00001)
"""Whole BTC units need a large account; the commission is kept small so the
54,000 trades of the single run do not grind the account down to refused orders."""
FAST, SLOW = 10, 20
"""The single run's windows: backtesting.py's ``SmaCross`` example."""
FAST_WINDOWS = range(5, 51, 5)
SLOW_WINDOWS = range(10, 201, 10)
AGREEMENT_BARS = 20_000
VECTORBT_CHUNK_COLUMNS = 25
FLOOR_BYTES_PER_SECOND = 40e6 / 2.3e-3
"""The stated memory bandwidth: 40 MB read in 2.3 ms."""
RESULT_MARKER = "BENCH-RESULT "
LIBRARY_KEYS = {"quantdesk": "quantdesk", "vectorbt": "vectorbt", "backtesting": "backtesting.py"}
"""Case-name suffix to the library's display name."""


@dataclass(frozen=True)
class Plan:
    """How big the run is.

    Attributes
    ----------
    bars
        Bars in the benchmark data.
    combinations
        The sweep's (fast, slow) pairs.
    backtesting_sample
        Sweep combinations backtesting.py runs; its sweep time is extrapolated.
    single_repeats, sweep_repeats
        Timed runs of quantdesk (median reported); vectorbt gets the single
        run's repeats too, backtesting.py one run.
    fresh_process_repeats
        Timed fresh processes for the first-backtest measurement.
    """

    bars: int
    combinations: tuple[tuple[int, int], ...]
    backtesting_sample: tuple[tuple[int, int], ...]
    single_repeats: int
    sweep_repeats: int
    fresh_process_repeats: int


def spread_out(items: Sequence[Any], count: int) -> tuple[Any, ...]:
    """``count`` items evenly spaced through ``items``, first and last included.

    Parameters
    ----------
    items
        The sequence to pick from.
    count
        How many to pick (at most ``len(items)``).

    Returns
    -------
    tuple
        The picked items, in order.
    """
    if count >= len(items):
        return tuple(items)
    if count == 1:
        return (items[0],)
    return tuple(items[round(k * (len(items) - 1) / (count - 1))] for k in range(count))


def make_plan(quick: bool) -> Plan:
    """The full plan, or the ``--quick`` smoke-run plan.

    Parameters
    ----------
    quick
        50,000 bars and 6 combinations instead of 1,000,000 and 175.

    Returns
    -------
    Plan
        Sizes and repeat counts.
    """
    every = sweep_combinations(FAST_WINDOWS, SLOW_WINDOWS)
    combinations = spread_out(every, 6) if quick else tuple(every)
    return Plan(
        bars=50_000 if quick else 1_000_000,
        combinations=combinations,
        backtesting_sample=spread_out(combinations, 2 if quick else 5),
        single_repeats=3 if quick else 7,
        sweep_repeats=1 if quick else 3,
        fresh_process_repeats=3 if quick else 7,
    )


# --- measuring ---------------------------------------------------------------------------------


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``action`` over ``repeats`` runs.

    Parameters
    ----------
    action
        What to time.
    repeats
        Runs, at least 1.

    Returns
    -------
    float
        Seconds.
    """
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def resident_bytes() -> int:
    """This process's resident memory now, from /proc (0 where there is none)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def peak_resident_bytes() -> int:
    """This process's peak resident memory so far (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def sample_bars(count: int, folder: Path) -> pd.DataFrame:
    """The first ``count`` one-minute ``sample:BTC/USDT`` bars from 2023-01-01.

    Parameters
    ----------
    count
        Bars wanted (1,000,000 is about 1.9 years).
    folder
        A scratch data directory for the settings.

    Returns
    -------
    pandas.DataFrame
        A canonical frame of exactly ``count`` bars.
    """
    source = SampleSource(Settings.load(data_dir=folder))
    end = FIRST_BAR + pd.Timedelta(minutes=count + 1)
    frame = source.fetch(SYMBOL, "1m", TimeRange.of(FIRST_BAR, end)).iloc[:count]
    if len(frame) != count:
        raise RuntimeError(f"expected {count:,} sample bars, got {len(frame):,}")
    return frame


def floor_seconds(frame: pd.DataFrame) -> float:
    """Time one read of every OHLCV value: the least any backtest of the bars can cost.

    Parameters
    ----------
    frame
        The bars.

    Returns
    -------
    float
        Median seconds to sum a contiguous (5, bars) float64 block.
    """
    block = np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T)
    return median_seconds(block.sum, 21)


# --- the cases, each run in its own process ----------------------------------------------------


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    """The JSON fields of an outcome."""
    return {"trades": outcome.trades, "final_equity": outcome.final_equity}


def case_single_quantdesk(frame: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """One ``sma_cross`` run: ``run_backtest``, then the lean path for reference."""
    from engine_ours import engine_config, ours_sma_cross, sma_cross_signals
    from quantdesk.engine import prepare_prices, simulate

    ours_sma_cross(frame.iloc[:5_000], FAST, SLOW, RULES)
    baseline = resident_bytes()
    seconds = median_seconds(lambda: ours_sma_cross(frame, FAST, SLOW, RULES), plan.single_repeats)
    config = engine_config(RULES)

    def lean() -> float:
        prices = prepare_prices(frame)
        return float(simulate(prices, sma_cross_signals(frame, FAST, SLOW), config).equity[-1])

    lean_seconds = median_seconds(lean, plan.single_repeats)
    public_ns, public_us = public_call_seconds(frame, plan, config)
    prices = prepare_prices(frame)
    signals = sma_cross_signals(frame, FAST, SLOW)
    kernel_seconds = median_seconds(lambda: simulate(prices, signals, config), plan.single_repeats)
    return {
        "seconds": seconds,
        "lean_seconds": lean_seconds,
        "public_ns_seconds": public_ns,
        "public_us_seconds": public_us,
        "kernel_seconds": kernel_seconds,
        "baseline_bytes": baseline,
        **outcome_fields(ours_sma_cross(frame, FAST, SLOW, RULES)),
    }


def public_call_seconds(frame: pd.DataFrame, plan: Plan, config: Any) -> tuple[float, float]:
    """``quantdesk.backtest`` on the frame as is (ns) and as pandas 3 builds it (us)."""
    import warnings

    import quantdesk
    from quantdesk.errors import DataRepairWarning

    microseconds = frame.set_axis(frame.index.as_unit("us"), axis=0)

    def public(data: pd.DataFrame) -> Callable[[], object]:
        return lambda: (
            quantdesk.backtest(
                "sma_cross", data, fast=FAST, slow=SLOW, short=True, config=config
            ).equity
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataRepairWarning)
        public(frame.iloc[:5_000])()
        return (
            median_seconds(public(frame), plan.single_repeats),
            median_seconds(public(microseconds), plan.single_repeats),
        )


def case_single_vectorbt(frame: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """One SMA-cross run in vectorbt: ``MA.run``, crossings, ``from_signals``."""
    naive = vectorbt_frame(frame)
    vectorbt_sma_cross(naive.iloc[:5_000], FAST, SLOW, RULES)
    baseline = resident_bytes()
    seconds = median_seconds(
        lambda: vectorbt_sma_cross(naive, FAST, SLOW, RULES), plan.single_repeats
    )
    return {
        "seconds": seconds,
        "baseline_bytes": baseline,
        **outcome_fields(vectorbt_sma_cross(naive, FAST, SLOW, RULES)),
    }


def case_single_backtesting(frame: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """One run of backtesting.py's ``SmaCross``."""
    capitalised = backtesting_frame(frame)
    backtesting_sma_cross(capitalised.iloc[:2_000], FAST, SLOW, RULES)
    baseline = resident_bytes()
    started = time.perf_counter()
    outcome = backtesting_sma_cross(capitalised, FAST, SLOW, RULES)
    return {
        "seconds": time.perf_counter() - started,
        "baseline_bytes": baseline,
        **outcome_fields(outcome),
    }


def case_sweep_quantdesk(frame: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """The sweep on the engine's lean path, each distinct SMA computed once."""
    from engine_ours import ours_sweep

    ours_sweep(frame.iloc[:5_000], plan.combinations[:2], RULES)
    baseline = resident_bytes()
    seconds = median_seconds(
        lambda: ours_sweep(frame, plan.combinations, RULES), plan.sweep_repeats
    )
    final_equities, trade_counts = ours_sweep(frame, plan.combinations, RULES)
    return {
        "seconds": seconds,
        "baseline_bytes": baseline,
        "final_equities": final_equities.tolist(),
        "trade_counts": trade_counts.tolist(),
    }


def case_sweep_vectorbt(frame: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """The sweep in vectorbt, each distinct SMA once, in chunks of columns."""
    naive = vectorbt_frame(frame)
    vectorbt_sweep(naive.iloc[:5_000], plan.combinations[:2], RULES, VECTORBT_CHUNK_COLUMNS)
    baseline = resident_bytes()
    started = time.perf_counter()
    final_equities, trade_counts = vectorbt_sweep(
        naive, plan.combinations, RULES, VECTORBT_CHUNK_COLUMNS
    )
    return {
        "seconds": time.perf_counter() - started,
        "baseline_bytes": baseline,
        "final_equities": final_equities.tolist(),
        "trade_counts": trade_counts.tolist(),
    }


def case_sweep_backtesting(frame: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """A few of the sweep's combinations in backtesting.py, one after another."""
    capitalised = backtesting_frame(frame)
    backtesting_sma_cross(capitalised.iloc[:2_000], FAST, SLOW, RULES)
    baseline = resident_bytes()
    timings: list[float] = []
    outcomes: list[dict[str, Any]] = []
    for fast, slow in plan.backtesting_sample:
        started = time.perf_counter()
        outcome = backtesting_sma_cross(capitalised, fast, slow, RULES)
        timings.append(time.perf_counter() - started)
        outcomes.append({"fast": fast, "slow": slow, **outcome_fields(outcome)})
    return {
        "seconds": statistics.fmean(timings) * len(plan.combinations),
        "sampled_seconds": sum(timings),
        "baseline_bytes": baseline,
        "outcomes": outcomes,
    }


def case_agreement(frame: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """The three fill models on identical signals: ``sma_cross``'s, long/short and long-only."""
    bars = frame.iloc[:AGREEMENT_BARS]
    rows: list[dict[str, Any]] = []
    try:
        from engine_ours import (
            check_sweep_signals,
            from_engine_signals,
            ours_simulate,
        )
        from quantdesk.strategies import get_strategy
    except ImportError as error:
        signal_source = f"reference pandas SMA cross (quantdesk unavailable: {error})"
        variants = {"long/short": reference_sma_cross_signals(bars["close"].to_numpy(), FAST, SLOW)}
        ours = None
    else:
        signal_source = "quantdesk `sma_cross`"
        variants = {
            f"short={short}": from_engine_signals(
                get_strategy("sma_cross", fast=FAST, slow=SLOW, short=short).signals(bars)
            )
            for short in (True, False)
        }
        ours = ours_simulate
        check_sweep_signals(bars, spread_out(plan.combinations, 4))
    naive = vectorbt_frame(bars)
    capitalised = backtesting_frame(bars)
    for variant, signals in variants.items():
        row: dict[str, Any] = {"variant": variant}
        if ours is not None:
            row["quantdesk"] = outcome_fields(ours(bars, signals, RULES))
        row["vectorbt"] = outcome_fields(vectorbt_outcome(vectorbt_simulate(naive, signals, RULES)))
        row["backtesting.py"] = outcome_fields(backtesting_simulate(capitalised, signals, RULES))
        row["signals"] = int(signals.long_entries.sum() + signals.short_entries.sum())
        rows.append(row)
    return {"bars": len(bars), "signal_source": signal_source, "rows": rows}


CASES: dict[str, Callable[[pd.DataFrame, Plan], dict[str, Any]]] = {
    "single-quantdesk": case_single_quantdesk,
    "single-vectorbt": case_single_vectorbt,
    "single-backtesting": case_single_backtesting,
    "sweep-quantdesk": case_sweep_quantdesk,
    "sweep-vectorbt": case_sweep_vectorbt,
    "sweep-backtesting": case_sweep_backtesting,
    "agreement": case_agreement,
}


def run_case_here(name: str, data_path: Path, quick: bool) -> None:
    """Child side: load the bars, run one case, print its JSON on one marked line.

    Parameters
    ----------
    name
        A key of :data:`CASES`.
    data_path
        The pickled bars written by the parent.
    quick
        Use the ``--quick`` plan.
    """
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar
    frame = pd.read_pickle(data_path)
    plan = make_plan(quick)
    try:
        result = CASES[name](frame, plan)
    except ImportError as error:
        result = {"unavailable": str(error)}
    result["peak_bytes"] = peak_resident_bytes()
    print(RESULT_MARKER + json.dumps(result), flush=True)


def run_case_process(name: str, data_path: Path, quick: bool) -> dict[str, Any]:
    """Parent side: run one case in a fresh interpreter and read its result.

    Parameters
    ----------
    name
        A key of :data:`CASES`.
    data_path
        The pickled bars.
    quick
        Pass ``--quick`` on.

    Returns
    -------
    dict
        The case's JSON result; ``{"failed": message}`` when the process failed.
    """
    command = [sys.executable, __file__, "--case", name, "--data", str(data_path)]
    if quick:
        command.append("--quick")
    environment = {**os.environ, "TQDM_DISABLE": "1"}
    print(f"running {name} ...", file=sys.stderr, flush=True)
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return dict(json.loads(line[len(RESULT_MARKER) :]))
    tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
    return {"failed": f"exit {completed.returncode}: {tail[0]}"}


FIRST_BACKTEST_CODE = """
import quantdesk
from quantdesk.engine import BacktestConfig, run_backtest
from quantdesk.strategies import get_strategy
frame = quantdesk.load(
    "sample:BTC/USDT", timeframe="1m", start="{start}", end="{end}",
    settings=quantdesk.Settings.load(data_dir={data_dir!r}),
)
assert len(frame) == 10_000
result = run_backtest(
    frame,
    get_strategy("sma_cross", fast=10, slow=20, short=True).signals(frame),
    BacktestConfig(cash={cash!r}, commission={commission!r}),
)
assert result.stats["final_equity"] > 0
"""


THIRD_PARTY_CODE = """
import numpy, pandas, pyarrow.parquet, pydantic, pydantic_settings, platformdirs, talib.abstract
import numba


@numba.njit(cache=True)
def add_one(value):
    return value + 1


add_one(1)
"""
"""What the first backtest cannot do without: the libraries it imports and numba's first
load of a cached kernel (which builds numba's typing and target registries)."""


@dataclass(frozen=True)
class FreshSeconds:
    """Wall and CPU times of one variant's fresh interpreters.

    Attributes
    ----------
    wall
        Each process's wall time, in the order run.
    cpu
        Each process's user plus system CPU time.
    """

    wall: tuple[float, ...]
    cpu: tuple[float, ...]

    def median(self) -> float:
        """Median wall time."""
        return statistics.median(self.wall)

    def spread(self) -> str:
        """The wall times' range over the runs, and the median CPU time."""
        return (
            f"runs {format_seconds(min(self.wall))} to {format_seconds(max(self.wall))}, "
            f"median CPU time {format_seconds(statistics.median(self.cpu))}"
        )


@dataclass(frozen=True)
class FreshProcessTimes:
    """Times of fresh interpreters; None where the backtest failed.

    Attributes
    ----------
    first_backtest
        Import, load 10,000 bars, one ``sma_cross`` backtest.
    without_scipy
        The same with SciPy made unimportable, as in an install without it
        (numba imports ``scipy.linalg.cython_blas`` when it loads a cached
        kernel, if SciPy is there; vectorbt brings SciPy in).
    third_party
        :data:`THIRD_PARTY_CODE` alone: what any first backtest costs before
        quantdesk's own code runs.
    bare
        ``python -c pass``, median seconds.
    failure
        Why the backtest could not run, if it could not.
    """

    first_backtest: FreshSeconds | None
    without_scipy: FreshSeconds | None
    third_party: FreshSeconds | None
    bare: float
    failure: str | None = None


def fresh_process_seconds(arguments: list[str], environment: dict[str, str]) -> tuple[float, float]:
    """Run one Python process; its wall time and its user plus system CPU time.

    Raises
    ------
    subprocess.CalledProcessError
        When the process fails; ``stderr`` holds its output.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    errors = process.stderr.read().decode() if process.stderr is not None else ""
    if process.stderr is not None:
        process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise subprocess.CalledProcessError(code, arguments, stderr=errors)
    return wall, usage.ru_utime + usage.ru_stime


def first_backtest_seconds(folder: Path, repeats: int) -> FreshProcessTimes:
    """Time fresh interpreters that import, load 10,000 bars and backtest once.

    A first process of each variant fills numba's on-disk cache, Python's
    bytecode cache (a ``PYTHONDONTWRITEBYTECODE`` in the environment is
    dropped for these processes, as an installed package has its bytecode)
    and quantdesk's Parquet cache of the bars; the timed ones follow, the
    variants taking turns so that a change in the machine's load hits each alike.

    Parameters
    ----------
    folder
        The data directory the processes share.
    repeats
        Timed processes per variant.

    Returns
    -------
    FreshProcessTimes
        Each variant's times.
    """
    code = FIRST_BACKTEST_CODE.format(
        start="2024-01-01 00:00",
        end=str(pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=10_000)),
        data_dir=str(folder),
        cash=RULES.cash,
        commission=RULES.commission,
    )
    hidden_scipy = 'import sys\nsys.modules["scipy"] = None\n' + code
    folder.mkdir(parents=True, exist_ok=True)
    # numba caches only functions defined in a file.
    third_party_module = folder / "third_party_floor.py"
    third_party_module.write_text(THIRD_PARTY_CODE)
    environment = {
        name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"
    }
    variants = {
        "first": ["-c", code],
        "without_scipy": ["-c", hidden_scipy],
        "third_party": [str(third_party_module)],
    }

    bare = median_seconds(lambda: fresh_process_seconds(["-c", "pass"], environment), repeats)
    try:
        for arguments in variants.values():
            fresh_process_seconds(arguments, environment)
    except subprocess.CalledProcessError as error:
        tail = (error.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return FreshProcessTimes(None, None, None, bare, f"exit {error.returncode}: {tail[0]}")
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, arguments in variants.items():
            timings[name].append(fresh_process_seconds(arguments, environment))

    def collected(name: str) -> FreshSeconds:
        walls, cpus = zip(*timings[name], strict=True)
        return FreshSeconds(wall=walls, cpu=cpus)

    return FreshProcessTimes(
        first_backtest=collected("first"),
        without_scipy=collected("without_scipy"),
        third_party=collected("third_party"),
        bare=bare,
    )


# --- the report --------------------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    """Seconds as ms below 1 s (3 significant figures), else s."""
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s" if seconds < 100 else f"{seconds:.0f} s"


def format_bytes(result: dict[str, Any]) -> str:
    """Peak memory, and how much of it the measured runs added to the loaded process."""
    peak = result.get("peak_bytes")
    if not peak:
        return "n/a"
    baseline = result.get("baseline_bytes")
    added = f" (+{(peak - baseline) / 1e6:,.0f} MB)" if baseline else ""
    return f"{peak / 1e6:,.0f} MB{added}"


def faster_by(ours: dict[str, Any], peer: dict[str, Any]) -> float | None:
    """How many times faster quantdesk was than a peer, or None without both figures."""
    if "seconds" not in ours or "seconds" not in peer:
        return None
    return float(peer["seconds"]) / float(ours["seconds"])


def verdict(met: bool | None) -> str:
    """``met``, ``missed`` or ``n/a``."""
    if met is None:
        return "n/a"
    return "met" if met else "**missed**"


def describe(result: dict[str, Any]) -> str | None:
    """The placeholder text for a case that did not produce figures, or None."""
    if "unavailable" in result:
        return f"not measured: import failed ({result['unavailable']})"
    if "failed" in result:
        return f"not measured: {result['failed']}"
    return None


def relative_difference(value: float, reference: float) -> float:
    """``|value / reference - 1|``."""
    return abs(value / reference - 1.0)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print one Markdown table."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def report(
    plan: Plan,
    results: dict[str, dict[str, Any]],
    floor: float,
    fresh: FreshProcessTimes,
) -> None:
    """Print the three tables: timings, targets, agreement.

    Parameters
    ----------
    plan
        What was run.
    results
        Each case's result by name.
    floor
        Measured seconds of one read of the bars.
    fresh
        The fresh-process times.
    """
    bars = f"{plan.bars:,} bars"
    combos = len(plan.combinations)
    ours_single = results["single-quantdesk"]
    ours_sweep = results["sweep-quantdesk"]
    floor_stated = plan.bars * 5 * 8 / FLOOR_BYTES_PER_SECOND
    rows: list[list[str]] = []

    def add(
        case: str, library: str, result: dict[str, Any], ours: dict[str, Any], note: str
    ) -> None:
        placeholder = describe(result)
        if placeholder is not None:
            rows.append([case, library, "—", "—", "—", placeholder])
            return
        ratio = None if result is ours else faster_by(ours, result)
        rows.append(
            [
                case,
                library,
                format_seconds(float(result["seconds"])),
                "—" if ratio is None else f"{ratio:,.1f}x",
                format_bytes(result),
                note,
            ]
        )

    single_case = f"one `sma_cross` {FAST}/{SLOW} long/short run, {bars}, signals included"
    ours_note = ""
    if describe(ours_single) is None:
        ours_note = (
            f"`run_backtest` (equity, trades, statistics); {ours_single['trades']:,} trades; "
            f"{float(ours_single['seconds']) / floor:,.0f}x the measured floor. Lean path "
            f"(`prepare_prices` + signals + `simulate`): "
            f"{format_seconds(float(ours_single['lean_seconds']))}; public "
            f"`quantdesk.backtest`: {format_seconds(float(ours_single['public_ns_seconds']))} "
            f"on an ns index, {format_seconds(float(ours_single['public_us_seconds']))} on "
            "pandas 3's default us index; kernel alone "
            f"(`simulate`): {format_seconds(float(ours_single['kernel_seconds']))}"
        )
        vectorbt_single = results["single-vectorbt"]
        lean = float(ours_single["lean_seconds"])
        for unit in ("ns", "us"):
            public = float(ours_single[f"public_{unit}_seconds"])
            ratios = f"; public ({unit}) / lean {public / lean:.2f}x (target <= 1.25x)"
            if describe(vectorbt_single) is None:
                ratios += (
                    f", / vectorbt {public / float(vectorbt_single['seconds']):.2f}x "
                    "(target <= 0.2x)"
                )
            ours_note += ratios
    add(single_case, "quantdesk", ours_single, ours_single, ours_note)
    add(
        single_case,
        "vectorbt",
        results["single-vectorbt"],
        ours_single,
        "`MA.run`, `ma_crossed_above/below`, `Portfolio.from_signals`, trades and final value",
    )
    add(
        single_case,
        "backtesting.py",
        results["single-backtesting"],
        ours_single,
        "its `SmaCross` example, one run",
    )
    sweep_case = f"sweep of {combos} combinations, {bars}, one process"
    add(
        sweep_case,
        "quantdesk",
        ours_sweep,
        ours_sweep,
        "lean path: `prepare_prices` once, each distinct SMA once, `simulate` per combination",
    )
    add(
        sweep_case,
        "vectorbt",
        results["sweep-vectorbt"],
        ours_sweep,
        f"each distinct SMA once; `from_signals` on chunks of {VECTORBT_CHUNK_COLUMNS} "
        "combinations (columns) at a time; all 175 at once on 1,000,000 bars would need "
        "> 24 GB, not attempted",
    )
    sampled = results["sweep-backtesting"]
    sampled_note = ""
    if describe(sampled) is None:
        sampled_note = (
            f"**extrapolated**: mean of {len(plan.backtesting_sample)} evenly spaced "
            f"combinations ({format_seconds(float(sampled['sampled_seconds']))} in all) "
            f"x {combos}"
        )
    add(sweep_case, "backtesting.py", sampled, ours_sweep, sampled_note)
    first_case = "first `sma_cross` backtest in a fresh process, 10,000 bars, numba cache warm"
    if fresh.first_backtest is None or fresh.without_scipy is None or fresh.third_party is None:
        rows.append([first_case, "quantdesk", "—", "—", "—", f"not measured: {fresh.failure}"])
    else:
        runs = len(fresh.first_backtest.wall)
        rows.append(
            [
                first_case,
                "quantdesk",
                format_seconds(fresh.first_backtest.median()),
                "—",
                "—",
                f"median of {runs} `python -c` wall times: import, `quantdesk.load`, signals, "
                f"`run_backtest`; {fresh.first_backtest.spread()} (a bare `python -c pass` "
                f"takes {format_seconds(fresh.bare)})",
            ]
        )
        rows.append(
            [
                "same, SciPy made unimportable (an install without SciPy; vectorbt brings it in)",
                "quantdesk",
                format_seconds(fresh.without_scipy.median()),
                "—",
                "—",
                "numba imports SciPy's BLAS when it loads a cached kernel, if SciPy is "
                f"installed; {fresh.without_scipy.spread()}",
            ]
        )
        rows.append(
            [
                "floor of the first backtest: its libraries' imports and numba's first "
                "cached-kernel load, no quantdesk",
                "numpy, pandas, pyarrow, pydantic(-settings), TA-Lib, numba",
                format_seconds(fresh.third_party.median()),
                "—",
                "—",
                f"a fresh process, SciPy importable; {fresh.third_party.spread()}",
            ]
        )
    rows.append(
        [
            f"floor: one read of {bars} x 5 float64 columns ({plan.bars * 40 / 1e6:,.0f} MB)",
            "numpy `sum`",
            format_seconds(floor),
            "—",
            "—",
            f"stated floor at this machine's bandwidth: {format_seconds(floor_stated)}",
        ]
    )
    print("### Speed and memory\n")
    print_table(
        ["case", "library", "time", "quantdesk faster by", "peak memory (+ by the runs)", "note"],
        rows,
    )

    single_vectorbt = faster_by(ours_single, results["single-vectorbt"])
    single_backtesting = faster_by(ours_single, results["single-backtesting"])
    sweep_vectorbt = faster_by(ours_sweep, results["sweep-vectorbt"])
    sweep_peak = ours_sweep.get("peak_bytes") if describe(ours_sweep) is None else None
    targets = [
        ("single run >= 4x faster than vectorbt", single_vectorbt, 4.0),
        ("single run >= 1000x faster than backtesting.py", single_backtesting, 1000.0),
        ("sweep >= 10x faster than vectorbt", sweep_vectorbt, 10.0),
    ]
    target_rows = [
        [
            name,
            "n/a" if value is None else f"{value:,.1f}x",
            verdict(None if value is None else value >= goal),
        ]
        for name, value, goal in targets
    ]
    target_rows.append(
        [
            "sweep peak memory < 1 GB",
            "n/a" if sweep_peak is None else f"{sweep_peak / 1e6:,.0f} MB",
            verdict(None if sweep_peak is None else sweep_peak < 1e9),
        ]
    )
    target_rows.append(
        [
            "first backtest in a fresh process <= 1.5 s",
            "n/a"
            if fresh.first_backtest is None
            else format_seconds(fresh.first_backtest.median()),
            verdict(None if fresh.first_backtest is None else fresh.first_backtest.median() <= 1.5),
        ]
    )
    if describe(ours_single) is None:
        target_rows.append(
            [
                "single run vs the memory floor (no target)",
                f"{float(ours_single['seconds']) / floor_stated:,.0f}x the stated "
                f"{format_seconds(floor_stated)} ({float(ours_single['seconds']) / floor:,.0f}x "
                f"the measured {format_seconds(floor)})",
                "—",
            ]
        )
    print("\n### Targets\n")
    print_table(["target", "measured", "verdict"], target_rows)
    print("\n### Agreement\n")
    print_table(
        ["comparison", "quantdesk", "vectorbt", "backtesting.py"], agreement_rows(plan, results)
    )


def outcome_cell(outcome: dict[str, Any] | None, reference: dict[str, Any] | None) -> str:
    """``trades / final equity``, with the relative difference from the reference."""
    if outcome is None:
        return "—"
    text = f"{outcome['trades']:,} trades, equity {outcome['final_equity']:,.2f}"
    if reference is not None and outcome is not reference:
        difference = relative_difference(outcome["final_equity"], reference["final_equity"])
        text += f" (rel. diff {difference:.1e})"
    return text


def agreement_rows(plan: Plan, results: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Rows of the agreement table: identical signals, then each library's own indicators.

    Parameters
    ----------
    plan
        What was run.
    results
        Each case's result by name.

    Returns
    -------
    list of list of str
        Table rows.
    """
    rows: list[list[str]] = []
    agreement = results["agreement"]
    if describe(agreement) is None:
        for row in agreement["rows"]:
            reference = row.get("quantdesk") or row["backtesting.py"]
            rows.append(
                [
                    f"{agreement['bars']:,} bars, identical signals ({agreement['signal_source']} "
                    f"{FAST}/{SLOW}, {row['variant']}, {row['signals']:,} entry signals)",
                    outcome_cell(row.get("quantdesk"), reference),
                    outcome_cell(row["vectorbt"], reference),
                    outcome_cell(row["backtesting.py"], reference),
                ]
            )
    single = {name: results[f"single-{key}"] for key, name in LIBRARY_KEYS.items()}
    reference = single["quantdesk"] if describe(single["quantdesk"]) is None else None
    rows.append(
        [
            f"{plan.bars:,} bars, the single run, each library's own SMA and crossing",
            *(
                outcome_cell(None if describe(result) else result, reference)
                for result in single.values()
            ),
        ]
    )
    ours_sweep = results["sweep-quantdesk"]
    peer_sweep = results["sweep-vectorbt"]
    if describe(ours_sweep) is None and describe(peer_sweep) is None:
        same = sum(
            a == b
            for a, b in zip(ours_sweep["trade_counts"], peer_sweep["trade_counts"], strict=True)
        )
        worst = max(
            relative_difference(b, a)
            for a, b in zip(ours_sweep["final_equities"], peer_sweep["final_equities"], strict=True)
        )
        sampled = results["sweep-backtesting"]
        sampled_text = "—"
        if describe(sampled) is None:
            index_of = {pair: number for number, pair in enumerate(plan.combinations)}
            matches = 0
            worst_sampled = 0.0
            for outcome in sampled["outcomes"]:
                number = index_of[(outcome["fast"], outcome["slow"])]
                matches += outcome["trades"] == ours_sweep["trade_counts"][number]
                worst_sampled = max(
                    worst_sampled,
                    relative_difference(
                        outcome["final_equity"], ours_sweep["final_equities"][number]
                    ),
                )
            sampled_text = (
                f"same trade count in {matches} of {len(sampled['outcomes'])} sampled; "
                f"largest equity rel. diff {worst_sampled:.1e}"
            )
        rows.append(
            [
                f"the sweep's {len(plan.combinations)} combinations, own indicators",
                "reference",
                f"same trade count in {same} of {len(plan.combinations)}; "
                f"largest equity rel. diff {worst:.1e}",
                sampled_text,
            ]
        )
    return rows


def versions() -> str:
    """Versions of the libraries compared, read from the installed metadata."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("quantdesk", "vectorbt", "backtesting", "numba", "numpy", "pandas"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} not installed")
    return ", ".join(parts)


def main() -> None:
    """Parse the command line; measure and print, or run one case as a child."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 bars, 6 combinations")
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.case:
        run_case_here(arguments.case, arguments.data, arguments.quick)
        return

    plan = make_plan(arguments.quick)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="quantdesk-bench-") as scratch:
        folder = Path(scratch)
        frame = sample_bars(plan.bars, folder / "generate")
        data_path = folder / "bars.pkl"
        frame.to_pickle(data_path)
        floor = floor_seconds(frame)
        del frame
        results = {name: run_case_process(name, data_path, arguments.quick) for name in CASES}
        print("running first-backtest ...", file=sys.stderr, flush=True)
        fresh = first_backtest_seconds(folder / "fresh", plan.fresh_process_repeats)
        load_after = os.getloadavg()[0]
    print(
        f"sample:{SYMBOL} 1m from {FIRST_BAR.date()}, {plan.bars:,} bars; cash "
        f"{RULES.cash:,.0f}, commission {RULES.commission:g} per side, all-in whole units, "
        f"next-open fills. {versions()}. {os.cpu_count()} CPUs, 1-minute load average "
        f"{load_before:.2f} at the start and {load_after:.2f} at the end (other work on the "
        "machine slows the timings).\n"
    )
    report(plan, results, floor, fresh)


if __name__ == "__main__":
    main()
