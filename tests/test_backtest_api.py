"""quantdesk.backtest and the backtest/strategies commands, end to end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quantdesk
from quantdesk.config import Settings
from quantdesk.errors import (
    DataRepairWarning,
    InvalidInputError,
    NoTradesWarning,
    UnknownNameError,
)
from quantdesk.strategies import get_strategy
from tests.command_line import run_quantdesk
from tests.frames import bars_from_closes, sample_bars


@pytest.fixture(scope="module")
def goog_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backtesting.test import GOOG

    path = tmp_path_factory.mktemp("goog") / "goog.csv"
    GOOG.to_csv(path)
    return path


run_cli = run_quantdesk


def test_cli_reproduces_backtesting_py_on_goog(goog_csv: Path, tmp_path: Path) -> None:
    result = run_cli(
        "backtest",
        "sma_cross",
        "--data",
        f"csv:{goog_csv}",
        "-p",
        "fast=10",
        "-p",
        "slow=20",
        "-p",
        "short=true",
        "--commission",
        "0.002",
        "--json",
        data_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["stats"]["final_equity"] == pytest.approx(56263.52, abs=0.01)
    assert len(output["trades"]) == 93
    assert output["stats"]["n_trades"] == 93
    first = output["trades"][0]
    assert set(first) == {
        "size",
        "entry_bar",
        "exit_bar",
        "entry_time",
        "exit_time",
        "entry_price",
        "exit_price",
        "pnl",
        "return_pct",
        "commission",
        "exit_reason",
    }


def test_cli_engine_options_take_effect(goog_csv: Path, tmp_path: Path) -> None:
    from backtesting.test import GOOG

    result = run_cli(
        "backtest",
        "sma_cross",
        "--data",
        f"csv:{goog_csv}",
        "--slippage",
        "0.001",
        "--sizing",
        "units",
        "--size",
        "3",
        "--stop-loss",
        "0.02",
        "--fixed-fee",
        "1",
        "--trade-on-close",
        "--json",
        data_dir=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    trades = json.loads(result.stdout)["trades"]
    assert trades
    closes = GOOG["Close"].to_numpy()
    for trade in trades:
        assert trade["size"] == 3
        assert trade["commission"] == 2.0  # the fixed fee at entry and at exit, no rate
        # Filled at the signal bar's close, 0.1 % worse for a buy.
        assert trade["entry_price"] == pytest.approx(closes[trade["entry_bar"]] * 1.001)
    stopped = [trade for trade in trades if trade["exit_reason"] == "stop_loss"]
    assert stopped
    for trade in stopped:
        # At the 2 % level or a gap below it, then 0.1 % worse for a sell.
        assert trade["exit_price"] <= trade["entry_price"] * 0.98 * 0.999 * (1 + 1e-12)


def test_cli_text_output_and_strategy_listing(goog_csv: Path, tmp_path: Path) -> None:
    text = run_cli("backtest", "sma_cross", "--data", f"csv:{goog_csv}", data_dir=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "SmaCross(fast=10, slow=20, short=False)" in text.stdout
    assert "final_equity" in text.stdout
    listed = json.loads(run_cli("strategies", "--json", data_dir=tmp_path).stdout)
    by_name = {item["name"]: item for item in listed}
    assert {"sma_cross", "rsi_reversion", "bollinger_breakout", "breakout_scalping"} <= set(by_name)
    fast = next(item for item in by_name["sma_cross"]["parameters"] if item["name"] == "fast")
    assert fast["default"] == 10


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["sma_crss"], "did you mean 'sma_cross'"),
        (["sma_cross", "-p", "fast=20", "-p", "slow=10"], "must be below slow"),
        (["sma_cross", "-p", "fast=-5"], "must be >= 1"),
        (["sma_cross", "-p", "fsat=5"], "did you mean 'fast'"),
        (["sma_cross", "-p", "fast"], "NAME=VALUE"),
        (["sma_cross", "-p", "slow=300"], "needs at least"),
        (["sma_cross", "--commission", "-1"], "commission"),
        (["sma_cross", "--sizing", "kelly"], "Input should be 'all_in', 'units'"),
        (["sma_cross", "--size", "3"], "only used with sizing='units'"),
        (["sma_cross", "--stop-loss", "1.5"], "BacktestConfig.stop_loss is a fraction"),
    ],
)
def test_cli_bad_input_is_one_line(
    goog_csv: Path, tmp_path: Path, words: list[str], message: str
) -> None:
    short_data = [
        "--data",
        "sample:AAPL",
        "-t",
        "1d",
        "--start",
        "2024-01-01",
        "--end",
        "2024-12-01",
    ]
    result = run_cli("backtest", *words, *short_data, data_dir=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_backtest_by_address_uses_the_cache(settings_in: Settings) -> None:
    arguments = {
        "timeframe": "4h",
        "start": "2024-01-01",
        "end": "2024-04-01",
        "settings": settings_in,
    }
    result = quantdesk.backtest(
        "sma_cross", "sample:ETH/USDT", lot_size=1e-8, fast=5, slow=15, **arguments
    )
    again = quantdesk.backtest(
        "sma_cross", "sample:ETH/USDT", lot_size=1e-8, fast=5, slow=15, **arguments
    )
    assert result.stats["final_equity"] == again.stats["final_equity"]
    assert result.parameters == {"fast": 5, "slow": 15, "short": False}
    assert result.data_fingerprint == again.data_fingerprint
    assert len(result.equity) == 91 * 6


def test_backtest_accepts_a_frame_an_instance_and_engine_options(settings_in: Settings) -> None:
    frame = quantdesk.load(
        "sample:SPY", timeframe="1d", start="2020-01-01", end="2024-01-01", settings=settings_in
    )
    strategy = get_strategy("sma_cross", fast=10, slow=40)
    plain = quantdesk.backtest(strategy, frame)
    costly = quantdesk.backtest(strategy, frame, commission=0.01, fixed_fee=5.0)
    assert costly.stats["commissions"] > plain.stats["commissions"] == 0
    assert costly.stats["final_equity"] < plain.stats["final_equity"]
    changed = quantdesk.backtest(strategy, frame, slow=60)
    assert changed.parameters["slow"] == 60


def test_backtest_repairs_a_frame_with_a_warning() -> None:
    from backtesting.test import GOOG

    with pytest.raises(InvalidInputError, match="naive"):
        quantdesk.backtest("sma_cross", GOOG)
    frame = GOOG.tz_localize("UTC")
    with pytest.warns(DataRepairWarning, match="renamed"):
        result = quantdesk.backtest("sma_cross", frame, commission=0.002, short=True)
    assert result.stats["final_equity"] == pytest.approx(56263.52, abs=0.01)


def test_backtest_refuses_what_it_cannot_use() -> None:
    with pytest.raises(InvalidInputError, match="DataFrame or an address"):
        quantdesk.backtest("sma_cross", [1, 2, 3])  # type: ignore[arg-type]
    frame = pd.DataFrame()
    with pytest.raises(InvalidInputError, match="slice the frame"):
        quantdesk.backtest("sma_cross", frame, start="2024-01-01")
    with pytest.raises(UnknownNameError, match="did you mean"):
        quantdesk.backtest("sma_crosss", "sample:BTC/USDT")


def test_every_engine_option_has_a_cli_option() -> None:
    from quantdesk.cli.backtest_commands import backtest_command
    from quantdesk.engine import BacktestConfig

    options = {parameter.name for parameter in backtest_command.params}
    assert set(BacktestConfig.model_fields) - options == set()


def test_the_cli_risk_free_rate_reaches_the_ratios(goog_csv: Path, tmp_path: Path) -> None:
    def sharpe(*words: str) -> float:
        words_run = ("backtest", "sma_cross", "--data", f"csv:{goog_csv}", *words, "--json")
        result = run_cli(*words_run, data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        return float(json.loads(result.stdout)["stats"]["sharpe"])

    assert sharpe("--risk-free-rate", "0.2") < sharpe()


def test_entries_no_lot_can_pay_for_are_explained_in_one_warning() -> None:
    bars = sample_bars("BTC/USDT", "1h", "2024-01-01", "2024-03-01")
    with pytest.warns(NoTradesWarning) as caught:
        result = quantdesk.backtest("sma_cross", bars)
    assert result.stats["n_trades"] == 0
    (warning,) = caught
    message = str(warning.message)
    first_entry = int(np.flatnonzero(get_strategy("sma_cross").signals(bars).long_entries)[0])
    fill_price = bars["open"].iloc[first_entry + 1]
    assert fill_price > 10_000  # one bitcoin costs more than the default cash
    assert f"at {fill_price:,.2f} costs more than the 10,000 of buying power" in message
    assert "lot_size" in message
    assert "\n" not in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traded = quantdesk.backtest("sma_cross", bars, lot_size=1e-8)
        flat = quantdesk.backtest("sma_cross", bars_from_closes([20_000.0] * 100))
    assert flat.stats["n_trades"] == 0  # no entry signal, so nothing to explain
    assert traded.stats["n_trades"] > 0
