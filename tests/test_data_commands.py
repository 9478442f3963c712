"""``quantdesk data ls`` and ``quantdesk data rm``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tests.command_line import run_quantdesk

# Two series: the hourly one spans a year boundary, so it has two chunk files.
FETCHED = {
    "sample:BTC/USDT": ("1h", "2024-12-20", "2025-01-10"),
    "sample:ETH/USDT": ("4h", "2024-03-01", "2024-04-01"),
}


def quantdesk_json(*words: str, data_dir: Path) -> Any:
    result = run_quantdesk(*words, "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a command that must fail with bad input."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("quantdesk: error: ")
    return lines[0].removeprefix("quantdesk: error: ")


@pytest.fixture
def filled(tmp_path: Path) -> dict[str, Any]:
    """Fill the cache with the FETCHED series; their fetch summaries by address."""
    summaries = {}
    for address, (timeframe, start, end) in FETCHED.items():
        window = ["-t", timeframe, "--start", start, "--end", end]
        summaries[address] = quantdesk_json("data", "fetch", address, *window, data_dir=tmp_path)
    return summaries


def test_ls_on_an_empty_cache_says_so(tmp_path: Path) -> None:
    result = run_quantdesk("data", "ls", data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "the cache is empty\n"
    assert quantdesk_json("data", "ls", data_dir=tmp_path) == []


def test_ls_lists_each_series_as_it_is_on_disk(tmp_path: Path, filled: dict[str, Any]) -> None:
    listed = quantdesk_json("data", "ls", data_dir=tmp_path)

    assert [f"{item['source']}:{item['symbol']}" for item in listed] == list(FETCHED)
    for item in listed:
        fetched = filled[f"{item['source']}:{item['symbol']}"]
        files = [path for path in Path(item["path"]).iterdir() if path.is_file()]
        assert item["timeframe"] == fetched["timeframe"]
        assert (item["rows"], item["first"], item["last"]) == (
            fetched["rows"],
            fetched["start"],
            fetched["end"],
        )
        assert item["coverage"] == [[fetched["requested_start"], fetched["requested_end"]]]
        assert item["size_bytes"] == sum(path.stat().st_size for path in files)
        assert item["chunk_files"] == len([path for path in files if path.suffix == ".parquet"])
        assert item["path"] == fetched["cache_path"]
        assert item["last_written"] is not None
    assert [item["chunk_files"] for item in listed] == [2, 1]

    text = run_quantdesk("data", "ls", data_dir=tmp_path).stdout.splitlines()

    header = "series timeframe first bar (UTC) last bar (UTC) bars files size last written (UTC)"
    assert text[0].split() == header.split()
    first_row = text[1].split()
    assert first_row[:2] == ["sample:BTC/USDT", "1h"]
    assert first_row[2:7] == ["2024-12-20", "00:00", "2025-01-09", "23:00", "504"]
    assert text[2].split()[:2] == ["sample:ETH/USDT", "4h"]
    total_rows = sum(item["rows"] for item in listed)
    assert text[3].startswith(f"2 series, {total_rows:,} bars, 3 files, ")
    assert len(text) == 4


def test_ls_filters_by_source_and_symbol(tmp_path: Path, filled: dict[str, Any]) -> None:
    only_eth = quantdesk_json(
        "data", "ls", "--source", "sample", "--symbol", "ETH/USDT", data_dir=tmp_path
    )
    assert [item["symbol"] for item in only_eth] == ["ETH/USDT"]
    other = run_quantdesk("data", "ls", "--source", "csv", data_dir=tmp_path)
    assert other.stdout == "nothing cached for source 'csv'\n"


def test_rm_of_one_series_leaves_the_other(tmp_path: Path, filled: dict[str, Any]) -> None:
    before = quantdesk_json("data", "ls", data_dir=tmp_path)

    result = run_quantdesk("data", "rm", "sample:BTC/USDT", "-t", "1h", data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("removed sample:BTC/USDT 1h: 2 chunk files, ")
    assert lines[1].startswith("freed ")
    left = quantdesk_json("data", "ls", data_dir=tmp_path)
    assert left == before[1:]
    assert not any(Path(before[0]["path"]).glob("*.parquet"))
    # Without --timeframe, every cached timeframe of the symbol goes.
    again = quantdesk_json("data", "rm", "sample:ETH/USDT", data_dir=tmp_path)
    assert again["removed_timeframes"] == ["4h"]
    assert again["bytes_freed"] == before[1]["size_bytes"]
    assert again["removed"] == [
        {
            "source": "sample",
            "symbol": "ETH/USDT",
            "timeframe": "4h",
            "chunk_files": 1,
            "bytes_freed": before[1]["size_bytes"],
        }
    ]


def test_rm_of_an_unknown_address_names_the_cached_close_matches(
    tmp_path: Path, filled: dict[str, Any]
) -> None:
    message = refused(run_quantdesk("data", "rm", "sample:btc/usdt", data_dir=tmp_path))

    assert message == "nothing cached for 'sample:btc/usdt'; did you mean 'sample:BTC/USDT'?"
    wrong_timeframe = refused(
        run_quantdesk("data", "rm", "sample:BTC/USDT", "-t", "4h", data_dir=tmp_path)
    )
    assert "it is cached at 1h" in wrong_timeframe
    assert len(quantdesk_json("data", "ls", data_dir=tmp_path)) == 2


def test_ambiguous_rm_is_refused_with_the_fix(tmp_path: Path, filled: dict[str, Any]) -> None:
    assert "--all --yes" in refused(run_quantdesk("data", "rm", data_dir=tmp_path))
    assert "add --yes" in refused(run_quantdesk("data", "rm", "--all", data_dir=tmp_path))
    assert "not both" in refused(
        run_quantdesk("data", "rm", "sample:BTC/USDT", "--all", "--yes", data_dir=tmp_path)
    )
    assert len(quantdesk_json("data", "ls", data_dir=tmp_path)) == 2


def test_rm_all_empties_the_cache(tmp_path: Path, filled: dict[str, Any]) -> None:
    before = quantdesk_json("data", "ls", data_dir=tmp_path)

    removal = quantdesk_json("data", "rm", "--all", "--yes", data_dir=tmp_path)

    assert [(item["symbol"], item["timeframe"]) for item in removal["removed"]] == [
        ("BTC/USDT", "1h"),
        ("ETH/USDT", "4h"),
    ]
    assert removal["bytes_freed"] == sum(item["size_bytes"] for item in before)
    assert run_quantdesk("data", "ls", data_dir=tmp_path).stdout == "the cache is empty\n"
    again = run_quantdesk("data", "rm", "--all", "--yes", data_dir=tmp_path)
    assert again.stdout == "the cache is already empty\n"


def test_rm_waits_for_a_writer_of_the_series(tmp_path: Path, filled: dict[str, Any]) -> None:
    directory = Path(filled["sample:BTC/USDT"]["cache_path"])
    chunk_files = sorted(directory.glob("*.parquet"))
    results: list[subprocess.CompletedProcess[str]] = []
    remover = threading.Thread(
        target=lambda: results.append(
            run_quantdesk("data", "rm", "sample:BTC/USDT", data_dir=tmp_path)
        )
    )

    with FileLock(directory / ".lock"):  # as a writer in the middle of a save holds it
        remover.start()
        time.sleep(3)
        assert remover.is_alive()
        assert sorted(directory.glob("*.parquet")) == chunk_files
        assert (directory / "coverage.json").exists()
    remover.join(timeout=60)

    assert results[0].returncode == 0, results[0].stderr
    assert not any(directory.glob("*.parquet"))
    assert not (directory / "coverage.json").exists()
