"""The Parquet cache under crashes and concurrency: killed writers, concurrent readers and writers.

Writers run in child processes started with ``sys.executable -c``; they read
the frames to save from pickles the test writes, so parent and child agree on
the data without sharing code.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from quantdesk.core.frame import empty_ohlcv, is_canonical
from quantdesk.core.time_range import TimeRange
from quantdesk.data.cache import CacheKey, ParquetStore
from quantdesk.data.cache import parquet as parquet_backend
from quantdesk.errors import CacheError
from tests.frames import bars_from_closes

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL and POSIX renames")

ROOT = Path(__file__).resolve().parent.parent
MINUTELY = CacheKey.of("sample", "BTC/USDT", "1m")
HOURLY = CacheKey.of("sample", "BTC/USDT", "1h")
MONTHS = ("2024-01", "2024-02", "2024-03")
CHILD_TIMEOUT_SECONDS = 60

# Every child script starts with these imports.
CHILD_PRELUDE = """
import os, sys, time
import pandas as pd
from quantdesk.core.time_range import TimeRange
from quantdesk.data.cache import CacheKey, ParquetStore
"""

# Saves one frame, stalling forever inside the N-th rename, i.e. after the
# temporary file of the N-th file written is complete but before it replaces
# the real one; the test then kills it.
STALLING_WRITER = """
root, frame_path, start, end, stall_at = sys.argv[1:]
frame = pd.read_pickle(frame_path)
real_replace = os.replace
renames = 0

def stalling_replace(source, target, *args, **kwargs):
    global renames
    renames += 1
    if renames == int(stall_at):
        print("stalled", os.path.basename(target), flush=True)
        time.sleep(600)
    real_replace(source, target, *args, **kwargs)

os.replace = stalling_replace
ParquetStore(root).save(CacheKey.of("sample", "BTC/USDT", "1m"), frame, TimeRange.of(start, end))
print("finished", flush=True)
"""

# Alternates replace(old) and save(new), forever, until it is killed.
LOOPING_WRITER = """
root, old_path, new_path = sys.argv[1:]
old, new = pd.read_pickle(old_path), pd.read_pickle(new_path)
store = ParquetStore(root)
key = CacheKey.of("sample", "BTC/USDT", "1m")
print("ready", flush=True)
while True:
    store.replace(key, old, TimeRange.of("2024-01-01", "2024-03-01"))
    store.save(key, new, TimeRange.of("2024-01-01", "2024-04-01"))
"""

# Alternates save(first) and replace(second) a number of times, then exits.
ALTERNATING_WRITER = """
root, first_path, second_path, rounds = sys.argv[1:]
first, second = pd.read_pickle(first_path), pd.read_pickle(second_path)
store = ParquetStore(root)
key = CacheKey.of("sample", "BTC/USDT", "1m")
print("ready", flush=True)
for _ in range(int(rounds)):
    store.save(key, first, TimeRange.of("2024-01-01", "2024-04-01"))
    store.replace(key, second, TimeRange.of("2024-01-01", "2024-03-01"))
print("done", flush=True)
"""

# Waits for "go" on stdin, then saves one day of hourly bars per call.
DAILY_WRITER = """
root, frame_path = sys.argv[1:]
frame = pd.read_pickle(frame_path)
store = ParquetStore(root)
key = CacheKey.of("sample", "BTC/USDT", "1h")
print("ready", flush=True)
sys.stdin.readline()
for day, bars in frame.groupby(frame.index.floor("D")):
    store.save(key, bars, TimeRange(day, day + pd.Timedelta(days=1)))
print("done", flush=True)
"""


class Child:
    """A child Python process whose output lines arrive on a queue."""

    def __init__(self, script: str, *arguments: object) -> None:
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD_PRELUDE + script, *map(str, arguments)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._forward_output, daemon=True)
        self.reader.start()

    def _forward_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("<exited>")

    def expect(self, prefix: str) -> str:
        try:
            line = self.lines.get(timeout=CHILD_TIMEOUT_SECONDS)
        except queue.Empty:
            line = f"nothing within {CHILD_TIMEOUT_SECONDS} s"
        if not line.startswith(prefix):
            self.kill()
            self.errors.seek(0)
            pytest.fail(f"child said {line!r}, expected {prefix!r}; stderr: {self.errors.read()}")
        return line

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=CHILD_TIMEOUT_SECONDS)

    def finish(self) -> None:
        self.errors.seek(0)
        assert self.process.wait(timeout=CHILD_TIMEOUT_SECONDS) == 0, self.errors.read()

    def close(self) -> None:
        self.kill()
        self.reader.join(timeout=CHILD_TIMEOUT_SECONDS)
        for stream in (self.process.stdin, self.process.stdout, self.errors):
            if stream is not None:
                stream.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.close()


def minute_bars(start: str, end: str, *, level: float) -> pd.DataFrame:
    times = pd.date_range(start, end, freq="1min", tz="UTC", inclusive="left")
    closes = level + np.sin(np.arange(len(times)) / 500.0)
    return bars_from_closes(closes, start=start, frequency="1min")


def pickled(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_pickle(path)
    return path


def month_slice(frame: pd.DataFrame, month: str) -> pd.DataFrame:
    start = pd.Timestamp(month, tz="UTC")
    return frame[(frame.index >= start) & (frame.index < start + pd.DateOffset(months=1))]


def within(frame: pd.DataFrame, time_range: TimeRange) -> pd.DataFrame:
    return frame[(frame.index >= time_range.start) & (frame.index < time_range.end)]


def temporary_files(store: ParquetStore, key: CacheKey) -> list[Path]:
    return [path for path in store.path(key).iterdir() if path.name.endswith(".tmp")]


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    return ParquetStore(tmp_path / "cache")


@pytest.fixture
def old_bars(store: ParquetStore) -> pd.DataFrame:
    """Two months of minute bars, already cached."""
    frame = minute_bars("2024-01-01", "2024-03-01", level=100.0)
    store.save(MINUTELY, frame, TimeRange.of("2024-01-01", "2024-03-01"))
    return frame


@pytest.fixture
def new_bars() -> pd.DataFrame:
    """Three months of minute bars over the same minutes, with other prices."""
    return minute_bars("2024-01-01", "2024-04-01", level=500.0)


EVERYTHING = TimeRange.of("2023-01-01", "2025-01-01")
JANUARY_TO_MARCH = TimeRange.of("2024-01-01", "2024-03-01")
JANUARY_TO_APRIL = TimeRange.of("2024-01-01", "2024-04-01")
KILL_ATTEMPTS = 6


# Killed writers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stall_at", "stalled_file", "new_months"),
    [
        (1, "2024-01.parquet", ()),
        (2, "2024-02.parquet", ("2024-01",)),
        (4, "coverage.json", MONTHS),
    ],
)
def test_a_writer_killed_mid_save_leaves_whole_files_and_no_false_coverage(
    store: ParquetStore,
    old_bars: pd.DataFrame,
    new_bars: pd.DataFrame,
    tmp_path: Path,
    children: list[Child],
    stall_at: int,
    stalled_file: str,
    new_months: tuple[str, ...],
) -> None:
    new_path = pickled(new_bars, tmp_path / "new.pkl")
    writer = Child(STALLING_WRITER, store.root, new_path, "2024-01-01", "2024-04-01", stall_at)
    children.append(writer)

    assert writer.expect("stalled") == f"stalled {stalled_file}"
    leftovers = temporary_files(store, MINUTELY)
    assert [path.name.startswith(f".{stalled_file}.") for path in leftovers] == [True]
    assert leftovers[0].stat().st_size > 0
    writer.kill()

    loaded = store.load(MINUTELY, EVERYTHING)
    for month in MONTHS:
        expected = month_slice(new_bars if month in new_months else old_bars, month)
        assert_frame_equal(month_slice(loaded, month), expected, check_exact=True)
    assert store.coverage(MINUTELY) == [TimeRange.of("2024-01-01", "2024-03-01")]
    assert store.missing(MINUTELY, TimeRange.of("2024-01-01", "2024-04-01")) == [
        TimeRange.of("2024-03-01", "2024-04-01")
    ]

    store.save(MINUTELY, empty_ohlcv(), TimeRange.of("2024-05-01", "2024-05-02"))
    assert temporary_files(store, MINUTELY) == []
    assert_frame_equal(store.load(MINUTELY, EVERYTHING), loaded, check_exact=True)


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_never_damages_the_series(
    store: ParquetStore,
    old_bars: pd.DataFrame,
    new_bars: pd.DataFrame,
    tmp_path: Path,
    children: list[Child],
) -> None:
    old_path = pickled(old_bars, tmp_path / "old.pkl")
    new_path = pickled(new_bars, tmp_path / "new.pkl")
    delays = random.Random(20240101)
    for _attempt in range(KILL_ATTEMPTS):
        writer = Child(LOOPING_WRITER, store.root, old_path, new_path)
        children.append(writer)
        writer.expect("ready")
        threading.Event().wait(delays.uniform(0.05, 1.0))
        writer.kill()

        loaded = store.load(MINUTELY, EVERYTHING)
        assert is_canonical(loaded)
        for month in ("2024-01", "2024-02"):
            piece = month_slice(loaded, month)
            assert piece.equals(month_slice(old_bars, month)) or piece.equals(
                month_slice(new_bars, month)
            )
        march = month_slice(loaded, "2024-03")
        assert march.empty or march.equals(month_slice(new_bars, "2024-03"))
        coverage = store.coverage(MINUTELY)
        assert coverage in ([], [JANUARY_TO_MARCH], [JANUARY_TO_APRIL])
        if coverage == [JANUARY_TO_APRIL]:
            assert not march.empty

    store.save(MINUTELY, empty_ohlcv(), TimeRange.of("2024-05-01", "2024-05-02"))
    assert temporary_files(store, MINUTELY) == []


# Failing writes in this process ---------------------------------------------------------


def test_coverage_is_not_extended_when_writing_the_bars_fails(
    store: ParquetStore,
    old_bars: pd.DataFrame,
    new_bars: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_write_chunk = parquet_backend.ParquetStore._write_chunk
    written: list[Path] = []

    def failing_second_write(self: ParquetStore, path: Path, frame: pd.DataFrame) -> None:
        if written:
            raise CacheError("disk on fire")
        written.append(path)
        real_write_chunk(self, path, frame)

    monkeypatch.setattr(parquet_backend.ParquetStore, "_write_chunk", failing_second_write)
    with pytest.raises(CacheError, match="disk on fire"):
        store.save(MINUTELY, new_bars, TimeRange.of("2024-01-01", "2024-04-01"))
    monkeypatch.undo()

    assert [path.name for path in written] == ["2024-01.parquet"]
    assert store.coverage(MINUTELY) == [TimeRange.of("2024-01-01", "2024-03-01")]
    assert_frame_equal(
        month_slice(store.load(MINUTELY, EVERYTHING), "2024-02"), month_slice(old_bars, "2024-02")
    )
    store.save(MINUTELY, new_bars, TimeRange.of("2024-01-01", "2024-04-01"))  # the lock is free
    assert_frame_equal(store.load(MINUTELY, EVERYTHING), new_bars, check_exact=True)


def test_a_failing_rename_gives_a_cache_error_and_leaves_no_temporary_file(
    store: ParquetStore,
    old_bars: pd.DataFrame,
    new_bars: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def full_disk(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(CacheError, match="No space left on device") as raised:
        store.save(MINUTELY, new_bars, TimeRange.of("2024-01-01", "2024-04-01"))
    monkeypatch.undo()

    assert "2024-01.parquet" in str(raised.value)
    assert "\n" not in str(raised.value)
    assert temporary_files(store, MINUTELY) == []
    assert_frame_equal(store.load(MINUTELY, EVERYTHING), old_bars, check_exact=True)


# Concurrency ----------------------------------------------------------------------------


@pytest.mark.slow
def test_readers_see_whole_files_while_a_writer_rewrites_the_series(
    store: ParquetStore, tmp_path: Path, children: list[Child]
) -> None:
    three_months = minute_bars("2024-01-25", "2024-03-05", level=100.0)
    two_months = minute_bars("2024-01-25", "2024-03-01", level=700.0)
    store.save(MINUTELY, three_months, TimeRange.of("2024-01-01", "2024-04-01"))
    writer = Child(
        ALTERNATING_WRITER,
        store.root,
        pickled(three_months, tmp_path / "three.pkl"),
        pickled(two_months, tmp_path / "two.pkl"),
        10,
    )
    children.append(writer)
    writer.expect("ready")
    problems: list[str] = []
    loads_per_reader: list[int] = []

    def read_until_the_writer_exits(time_range: TimeRange) -> None:
        loads = 0
        while writer.process.poll() is None:
            try:
                loaded = ParquetStore(store.root).load(MINUTELY, time_range)
            except Exception as error:  # collected and reported by the test thread
                problems.append(f"{type(error).__name__}: {error}")
                continue
            loads += 1
            if not is_canonical(loaded):
                problems.append("a load was not canonical")
            for month in MONTHS:
                piece = month_slice(loaded, month)
                allowed = [
                    within(month_slice(frame, month), time_range)
                    for frame in (three_months, two_months)
                ]
                if not any(piece.equals(frame) for frame in allowed):
                    problems.append(f"{month} held {len(piece)} rows matching neither version")
        loads_per_reader.append(loads)

    readers = [
        threading.Thread(target=read_until_the_writer_exits, args=(time_range,))
        for time_range in (EVERYTHING, TimeRange.of("2024-01-31 12:00", "2024-03-01 12:00"))
        for _copy in range(2)
    ]
    for reader in readers:
        reader.start()
    writer.expect("done")
    writer.finish()
    for reader in readers:
        reader.join(timeout=CHILD_TIMEOUT_SECONDS)

    assert problems == []
    assert min(loads_per_reader) >= 3


@pytest.mark.slow
def test_concurrent_writers_of_one_series_lose_no_bars_and_no_coverage(
    store: ParquetStore, tmp_path: Path, children: list[Child]
) -> None:
    writer_count, days_each = 4, 6
    all_days = bars_from_closes(
        100 + np.arange(writer_count * days_each * 24) * 0.01, start="2024-03-01", frequency="1h"
    )
    day_numbers = (all_days.index - all_days.index[0]).days.to_numpy()
    for writer_number in range(writer_count):
        own_days = all_days[day_numbers % writer_count == writer_number]
        children.append(
            Child(DAILY_WRITER, store.root, pickled(own_days, tmp_path / f"{writer_number}.pkl"))
        )
    for writer in children:
        writer.expect("ready")
    for writer in children:
        writer.send("go")
    for writer in children:
        writer.expect("done")
        writer.finish()

    assert_frame_equal(store.load(HOURLY, EVERYTHING), all_days, check_exact=True)
    assert store.coverage(HOURLY) == [
        TimeRange(all_days.index[0], all_days.index[-1] + pd.Timedelta(hours=1))
    ]
