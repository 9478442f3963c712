"""The return statistics against their written definitions, ruin, and runs saved before them.

Every expected value is worked out here, by hand or with numpy on the equity
curve, never with :mod:`quantdesk.engine.stats`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import quantdesk
from quantdesk.cli.output import aligned_lines
from quantdesk.config import Settings
from quantdesk.engine import BacktestConfig, BacktestResult, ranking_value, run_backtest
from quantdesk.engine.stats import (
    RATIO_KEYS,
    STAT_KEYS,
    compute_statistics,
    upgrade_saved_statistics,
)
from quantdesk.store.run_codec import decode_values, encode_values
from quantdesk.strategies.signals import Signals
from tests.frames import bars_from_closes
from tests.saved_runs import assert_same_values, small_result

RATIOS = RATIO_KEYS
NO_TRADES = pd.DataFrame(
    {"entry_bar": [], "exit_bar": [], "pnl": [], "return_pct": [], "commission": []}
)


def statistics_of(
    equity: np.ndarray, index: pd.DatetimeIndex, cash: float, **options: float
) -> dict[str, object]:
    return compute_statistics(
        equity=pd.Series(equity, index=index),
        trades=NO_TRADES,
        close=np.full(len(equity), 100.0),
        initial_cash=cash,
        open_entry_bar=None,
        open_commission=0.0,
        periods_per_year=options.pop("periods_per_year", None),
        **options,
    )


def test_ratios_of_three_daily_returns_worked_by_hand() -> None:
    # Daily returns +10 %, -10 %, +10 %: mean 1/30, sample deviation 1/sqrt(75); the
    # only loss is 10 % on one day of three, so the downside deviation is 0.1/sqrt(3).
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    equity = np.array([100.0, 110.0, 99.0, 108.9])
    stats = statistics_of(equity, index, cash=100.0, periods_per_year=365)

    assert stats["sharpe"] == pytest.approx(math.sqrt(75 * 365) / 30, rel=1e-12)
    assert stats["sortino"] == pytest.approx(math.sqrt(365 / 3), rel=1e-12)
    assert stats["volatility_ann_pct"] == pytest.approx(100 * math.sqrt(365 / 75), rel=1e-12)
    years = 3 / 365.25
    cagr = 1.089 ** (1 / years) - 1
    assert stats["cagr_pct"] == pytest.approx(100 * cagr, rel=1e-12)
    assert stats["calmar"] == pytest.approx(cagr / 0.1, rel=1e-12)


def test_ratios_match_numpy_on_a_random_walk_of_weekdays_with_a_risk_free_rate() -> None:
    generator = np.random.default_rng(3)
    index = pd.bdate_range("2021-01-04", periods=600, tz="UTC")
    equity = 10_000.0 * np.cumprod(1 + generator.normal(0.0004, 0.012, len(index)))
    stats = statistics_of(equity, index, cash=10_000.0, risk_free_rate=0.05)

    returns = equity[1:] / equity[:-1] - 1
    excess = returns - (1.05 ** (1 / 252) - 1)
    downside = np.sqrt(np.mean(np.minimum(excess, 0) ** 2))
    assert stats["sharpe"] == pytest.approx(
        excess.mean() / excess.std(ddof=1) * np.sqrt(252), rel=1e-9
    )
    assert stats["sortino"] == pytest.approx(excess.mean() / downside * np.sqrt(252), rel=1e-9)
    assert stats["volatility_ann_pct"] == pytest.approx(
        returns.std(ddof=1) * np.sqrt(252) * 100, rel=1e-9
    )
    years = (index[-1] - index[0]).days / 365.25
    cagr = (equity[-1] / 10_000.0) ** (1 / years) - 1
    peak = np.maximum(np.maximum.accumulate(equity), 10_000.0)
    deepest = np.min(equity / peak - 1)
    assert stats["cagr_pct"] == pytest.approx(cagr * 100, rel=1e-9)
    assert stats["calmar"] == pytest.approx(cagr / abs(deepest), rel=1e-9)

    without_rate = statistics_of(equity, index, cash=10_000.0)
    assert without_rate["sharpe"] == pytest.approx(
        returns.mean() / returns.std(ddof=1) * np.sqrt(252), rel=1e-9
    )


def test_the_risk_free_rate_must_be_an_annual_rate() -> None:
    with pytest.raises(quantdesk.errors.ConfigurationError, match="risk_free_rate is an annual"):
        BacktestConfig(risk_free_rate=4.0)


def test_sharpe_is_mean_over_deviation_on_sample_bitcoin(settings_in: Settings) -> None:
    options = {"timeframe": "1h", "start": "2024-01-01", "end": "2024-07-01", "lot_size": 1e-8}
    for rate in (0.0, 0.05):
        result = quantdesk.backtest(
            "sma_cross", "sample:BTC/USDT", settings=settings_in, risk_free_rate=rate, **options
        )
        daily = result.equity.resample("D").last().dropna().to_numpy()
        excess = daily[1:] / daily[:-1] - 1 - ((1 + rate) ** (1 / 365) - 1)
        expected = excess.mean() / excess.std(ddof=1) * np.sqrt(365)
        assert result.stats["sharpe"] == pytest.approx(expected, rel=1e-9)
        assert result.stats["sharpe"] != pytest.approx(result.stats["sharpe_backtesting_py"])


def rally(peak: float) -> pd.DataFrame:
    """Daily bars flat at 100 for three days, climbing to ``peak`` over ten, then flat."""
    closes = [100.0] * 3 + list(np.linspace(100.0, peak, 11)[1:]) + [peak] * 5
    return bars_from_closes(closes, frequency="1D", spread=0.0)


def short_into_a_rally(peak: float) -> BacktestResult:
    """All in short at 100 on day 2 of :func:`rally`."""
    frame = rally(peak)
    entries = np.zeros(len(frame), dtype=bool)
    entries[1] = True
    return run_backtest(
        frame, Signals.from_series(np.zeros(len(frame), dtype=bool), short_entries=entries)
    )


def test_a_run_wiped_out_reports_minus_100_and_ranks_last() -> None:
    losers = {peak: short_into_a_rally(peak) for peak in (105.0, 120.0, 199.0)}
    ruined = short_into_a_rally(250.0)
    assert ruined.equity.min() <= 0
    assert losers[199.0].stats["total_return_pct"] < -97

    for key in ("total_return_pct", "return_ann_pct", "cagr_pct"):
        assert ruined.stats[key] == -100.0, key
    for key in RATIOS:
        assert ruined.stats[key] == -math.inf, key
        for loser in losers.values():
            assert -math.inf < loser.stats[key] < 0, key

    runs = [ruined, *losers.values()]
    table = pd.DataFrame([run.stats for run in runs])
    for key in RATIOS:
        assert table.sort_values(key, ascending=False).index[-1] == 0, key
        assert sorted(runs, key=lambda run: run.stats[key], reverse=True)[-1] is ruined, key
    for key in ("total_return_pct", "cagr_pct", "return_ann_pct"):
        assert (table[key] >= ruined.stats[key]).all(), key


def test_the_ranking_key_puts_ruin_after_runs_whose_ratios_are_undefined() -> None:
    ruined = short_into_a_rally(250.0)
    bars = rally(250.0)
    idle = run_backtest(bars, Signals.from_series(np.zeros(len(bars), dtype=bool)))
    loser = short_into_a_rally(120.0)
    assert math.isnan(idle.stats["sharpe"])
    runs = [ruined, idle, loser]
    for key in RATIOS:
        best_first = sorted(runs, key=lambda run: ranking_value(run.stats[key]), reverse=True)
        assert best_first[-1] is ruined, key
        table = pd.DataFrame([run.stats for run in runs])
        ranked = table.sort_values(
            key, ascending=False, key=lambda column: column.map(ranking_value)
        )
        assert ranked.index[-1] == 0, key


def test_the_command_line_shows_ruin_apart_from_undefined_ratios() -> None:
    lines = aligned_lines({"sharpe": short_into_a_rally(250.0).stats["sharpe"], "sqn": math.nan})
    assert lines == ["sharpe  -inf", "sqn     n/a"]


def test_equity_that_touches_zero_and_recovers_is_still_ruined() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    stats = statistics_of(
        np.array([100.0, 50.0, 0.0, 80.0, 120.0, 130.0]), index, cash=100.0, periods_per_year=365
    )
    assert stats["final_equity"] == 130.0
    assert stats["total_return_pct"] == stats["cagr_pct"] == -100.0
    assert all(stats[key] == -math.inf for key in RATIOS)
    # Measured until the wipe-out: -50 % and then -100 %.
    assert stats["volatility_ann_pct"] == pytest.approx(
        np.std([-0.5, -1.0], ddof=1) * np.sqrt(365) * 100, rel=1e-12
    )


def old_format(stats: dict[str, object]) -> dict[str, object]:
    """The statistics as runs saved before the standard ratios stored them."""
    renamed = {
        "volatility_ann_pct": "volatility_ann_backtesting_py_pct",
        "sharpe": "sharpe_backtesting_py",
        "sortino": "sortino_backtesting_py",
        "calmar": "calmar_backtesting_py",
    }
    return {key: stats[renamed.get(key, key)] for key in STAT_KEYS if key not in renamed.values()}


def test_statistics_saved_under_the_old_keys_load_in_todays() -> None:
    result = small_result(4)
    saved = json.loads(json.dumps(encode_values(old_format(result.stats)), allow_nan=False))
    loaded = upgrade_saved_statistics(
        decode_values(saved, order=STAT_KEYS),
        result.equity,
        initial_cash=result.config.cash,
        periods_per_year=result.config.periods_per_year,
    )
    assert_same_values(loaded, dict(result.stats))

    current = json.loads(json.dumps(encode_values(result.stats), allow_nan=False))
    assert_same_values(
        upgrade_saved_statistics(
            decode_values(current, order=STAT_KEYS),
            result.equity,
            initial_cash=result.config.cash,
            periods_per_year=None,
        ),
        dict(result.stats),
    )
