"""Golden stats for every built-in strategy on sample data.

The numbers in ``tests/golden/strategy_stats.json`` change only on purpose:
when a change to the engine, a strategy or the sample data moves them,
regenerate with ``pytest tests/test_strategy_golden_stats.py --update-golden``
and give the reason in the commit message.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import quantdesk
from quantdesk.config import Settings
from quantdesk.strategies import available_strategies

GOLDEN = Path(__file__).parent / "golden" / "strategy_stats.json"
BUILT_IN = ("sma_cross", "rsi_reversion", "bollinger_breakout", "breakout_scalping")
CASES = {
    "BTC/USDT 1h 2024H1": {
        "data": "sample:BTC/USDT",
        "timeframe": "1h",
        "start": "2024-01-01",
        "end": "2024-07-01",
        "lot_size": 1e-8,
        "commission": 0.001,
    },
    "AAPL 1d 2018-2024": {
        "data": "sample:AAPL",
        "timeframe": "1d",
        "start": "2018-01-01",
        "end": "2025-01-01",
        "lot_size": 1.0,
        "commission": 0.0005,
    },
}


def plain(value: Any) -> Any:
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def measured(settings: Settings) -> dict[str, dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for case, arguments in CASES.items():
        options = dict(arguments)
        data = options.pop("data")
        for strategy in BUILT_IN:
            result = quantdesk.backtest(strategy, data, settings=settings, **options)
            stats = {name: plain(value) for name, value in result.stats.items()}
            results.setdefault(case, {})[strategy] = stats
    return results


def test_every_built_in_strategy_is_covered() -> None:
    shipped = {
        name
        for name, strategy in available_strategies().items()
        if strategy.__module__.startswith("quantdesk.strategies.")
    }
    # ml_predictive trades on a trained model's predictions, not on bars alone;
    # tests/test_ml_predictive.py checks it against a planted signal.
    assert shipped - {"ml_predictive"} == set(BUILT_IN)


def test_stats_match_the_golden_file(settings_in: Settings, request: pytest.FixtureRequest) -> None:
    results = measured(settings_in)
    if request.config.getoption("--update-golden"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert set(golden) == set(results)
    for case, strategies in golden.items():
        assert set(strategies) == set(results[case]), case
        for strategy, stats in strategies.items():
            actual = results[case][strategy]
            assert set(stats) == set(actual), (case, strategy)
            for name, expected in stats.items():
                where = f"{case} {strategy} {name}"
                if isinstance(expected, float):
                    assert actual[name] == pytest.approx(expected, rel=1e-9, abs=1e-12), where
                else:
                    assert actual[name] == expected, where
            assert stats["n_trades"] > 0, f"{case} {strategy} should trade at least once"


PERIODS_PER_YEAR = {"BTC/USDT 1h 2024H1": 365, "AAPL 1d 2018-2024": 252}


def independent_return_statistics(equity: Any, cash: float, periods: int) -> dict[str, float]:
    """The standard ratios from the equity curve with numpy, as the README defines them."""
    daily = equity.resample("D").last().dropna().to_numpy()
    returns = daily[1:] / daily[:-1] - 1
    values = equity.to_numpy()
    years = (equity.index[-1] - equity.index[0]).total_seconds() / 86_400 / 365.25
    cagr = (values[-1] / cash) ** (1 / years) - 1
    deepest = np.min(values / np.maximum(np.maximum.accumulate(values), cash) - 1)
    downside = np.sqrt(np.mean(np.minimum(returns, 0) ** 2))
    return {
        "volatility_ann_pct": returns.std(ddof=1) * np.sqrt(periods) * 100,
        "cagr_pct": cagr * 100,
        "sharpe": returns.mean() / returns.std(ddof=1) * np.sqrt(periods),
        "sortino": returns.mean() / downside * np.sqrt(periods),
        "calmar": cagr / abs(deepest),
    }


def test_golden_ratios_are_the_defined_ones(settings_in: Settings) -> None:
    golden = json.loads(GOLDEN.read_text())
    for case, arguments in CASES.items():
        options = dict(arguments)
        data = options.pop("data")
        for strategy in BUILT_IN:
            result = quantdesk.backtest(strategy, data, settings=settings_in, **options)
            expected = independent_return_statistics(
                result.equity, result.config.cash, PERIODS_PER_YEAR[case]
            )
            for name, value in expected.items():
                assert golden[case][strategy][name] == pytest.approx(value, rel=1e-9), (
                    case,
                    strategy,
                    name,
                )
