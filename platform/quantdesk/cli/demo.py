"""``quantdesk demo``: a tour of the library in one command, on the embedded database.

It starts the embedded PostgreSQL server (or uses the external one), brings
the schema up to date and makes sure the person running it has a database
user, then runs the most complete demo there is: built-in sample data loaded
through the cache (twice, to show the hit), resampled, checked for gaps,
with indicators and patterns printed, and every built-in strategy
backtested on it and saved.
"""

from __future__ import annotations

import time
from typing import Any

import click

from quantdesk.cli.output import emit, json_option

DEMO_START = "2024-01-01"
DEMO_END = "2024-07-01"


@click.command("demo")
@click.option("--symbol", default="BTC/USDT", show_default=True, help="A sample symbol to study.")
@click.option("--timeframe", "-t", default="1h", show_default=True, help="Bar length, 1m to 1d.")
@json_option
def demo(symbol: str, timeframe: str, as_json: bool) -> None:
    """Tour the library: the database, your user, sample data, indicators, patterns, backtests."""
    from quantdesk.config import Settings

    settings = Settings.load()
    database = start_local_database(settings)
    demo = run_demo(settings, symbol=symbol, timeframe=timeframe, save=True)
    report = {"database": database, **demo}
    emit(report, as_json=as_json, text=render(report))


def start_local_database(settings: Any) -> dict[str, Any]:
    """Start and migrate the database and make sure the local person has a user.

    Parameters
    ----------
    settings
        quantdesk's settings.

    Returns
    -------
    dict
        The database's state, the local user's name and whether it was created.
    """
    from quantdesk.api.database import start_database
    from quantdesk.api.users import ensure_local_user

    ready = start_database(settings)
    user = ensure_local_user(settings)
    return {
        **ready.to_json(),
        "summary": ready.describe(),
        "user": user.name,
        "user_created": user.created,
    }


def run_demo(settings: Any, *, symbol: str, timeframe: str, save: bool = False) -> dict[str, Any]:
    """Run the data demo and return what it found.

    Parameters
    ----------
    settings
        quantdesk's settings; the cache under them is used.
    symbol
        A symbol of the ``sample`` source.
    timeframe
        The bar length to study.
    save
        Also save each backtest in the database as the current user.

    Returns
    -------
    dict
        JSON-ready sections: ``saved_runs`` (name to run id), ``backtests``,
        ``data``, ``resampled``, ``gaps``, ``indicators``,
        ``candlestick_patterns`` and ``chart_patterns``.
    """
    import pandas as pd

    from quantdesk.api.analysis import indicators, patterns
    from quantdesk.api.backtest import backtest
    from quantdesk.api.data import Timeframe, gap_report, load_bars, resample_ohlcv

    address = f"sample:{symbol}"
    loads = []
    for _ in range(2):
        started = time.perf_counter()
        result = load_bars(
            address, timeframe=timeframe, start=DEMO_START, end=DEMO_END, settings=settings
        )
        loads.append({**result.summary(), "seconds": round(time.perf_counter() - started, 4)})
    bars = result.frame
    daily = resample_ohlcv(result, "1d") if result.timeframe < Timeframe.parse("1d") else bars
    stock = load_bars(
        "sample:AAPL", timeframe="1h", start=DEMO_START, end="2024-02-01", settings=settings
    )
    gaps = gap_report(stock)
    latest = bars.index[-1]
    macd = indicators.macd(bars).iloc[-1]
    bands = indicators.bollinger_bands(bars).iloc[-1]
    candles = patterns.candlestick_patterns(bars)
    found = (candles != 0).sum().sort_values(ascending=False)
    levels = patterns.find_levels(bars, order=10)
    breakouts = patterns.find_breakouts(bars, lookback=48, volume_factor=1.5)
    swings = patterns.find_swings(bars, order=10)
    results = {
        name: backtest(name, bars, lot_size=1e-8, commission=0.001)
        for name in ("sma_cross", "rsi_reversion", "bollinger_breakout", "breakout_scalping")
    }
    strategy_runs = {name: result.stats for name, result in results.items()}
    saved = _replace_demo_runs(results, settings) if save else {}
    return {
        "saved_runs": saved,
        "backtests": {
            name: {key: stats[key] for key in _SHOWN_STATS} for name, stats in strategy_runs.items()
        },
        "data": {"loads": loads, "cache_dir": str(settings.resolved_cache_dir)},
        "resampled": {
            "timeframe": "1d",
            "rows": len(daily),
            "last_close": float(daily["close"].iloc[-1]),
        },
        "gaps": {
            "address": "sample:AAPL",
            "timeframe": "1h",
            "count": len(gaps),
            "longest_hours": gaps["duration"].max() / pd.Timedelta(hours=1) if len(gaps) else 0.0,
        },
        "indicators": {
            "time": latest.isoformat(),
            "close": float(bars["close"].iloc[-1]),
            "sma_20": float(indicators.sma(bars, 20).iloc[-1]),
            "ema_50": float(indicators.ema(bars, 50).iloc[-1]),
            "rsi_14": float(indicators.rsi(bars, 14).iloc[-1]),
            "macd": float(macd["macd"]),
            "macd_signal": float(macd["signal"]),
            "bollinger_upper": float(bands["upper"]),
            "bollinger_lower": float(bands["lower"]),
            "atr_14": float(indicators.atr(bars, 14).iloc[-1]),
            "adx_14": float(indicators.adx(bars, 14).iloc[-1]),
        },
        "candlestick_patterns": {name: int(count) for name, count in found.head(5).items()},
        "chart_patterns": {
            "swing_highs": sum(swing.kind == "high" for swing in swings),
            "swing_lows": sum(swing.kind == "low" for swing in swings),
            "levels": [
                {"kind": level.kind, "price": round(level.price, 2), "touches": level.touches}
                for level in levels[:3]
            ],
            "breakouts_with_volume": len(breakouts),
            "double_tops": len(patterns.find_double_tops(bars, order=10)),
            "double_bottoms": len(patterns.find_double_bottoms(bars, order=10)),
            "head_and_shoulders": len(patterns.find_head_and_shoulders(bars, order=10)),
            "inverse_head_and_shoulders": len(
                patterns.find_inverse_head_and_shoulders(bars, order=10)
            ),
        },
    }


DEMO_RUN_PREFIX = "quantdesk demo: "


def _replace_demo_runs(results: dict[str, Any], settings: Any) -> dict[str, str]:
    """Save this demo's runs in place of the previous demo's, so re-running adds none."""
    from quantdesk.api.runs import list_runs, remove_run

    for previous in list_runs(limit=None, settings=settings):
        if (previous.name or "").startswith(DEMO_RUN_PREFIX):
            remove_run(previous.id, settings=settings)
    return {
        name: str(result.save(name=f"{DEMO_RUN_PREFIX}{name}", settings=settings).id)
        for name, result in results.items()
    }


_SHOWN_STATS = ("total_return_pct", "sharpe", "max_drawdown_pct", "n_trades", "win_rate_pct")


def render(report: dict[str, Any]) -> str:
    """Turn the demo's report into text for a person.

    Parameters
    ----------
    report
        What :func:`run_demo` returned.

    Returns
    -------
    str
        A few short sections.
    """
    first, second = report["data"]["loads"]
    values = report["indicators"]
    chart = report["chart_patterns"]
    database = report["database"]
    created = (
        " (created; its URL is kept in your data directory)" if database["user_created"] else ""
    )
    lines = [
        f"database: {database['summary']}",
        f"database user: {database['user']}{created}",
        "",
        "quantdesk demo: built-in sample data, cached, with indicators and patterns",
        f"cache: {report['data']['cache_dir']}",
        "",
        f"{first['source']}:{first['symbol']} {first['timeframe']}, {first['rows']} bars "
        f"from {first['start']} to {first['end']}",
        f"  first load:  {_describe_load(first)}",
        f"  second load: {_describe_load(second)}",
        f"  resampled to 1d: {report['resampled']['rows']} bars",
        f"  gaps in sample:AAPL 1h (nights, weekends, holidays): {report['gaps']['count']}, "
        f"longest {report['gaps']['longest_hours']:.0f} h",
        "",
        f"indicators at {values['time']}",
    ]
    for name in (
        "close",
        "sma_20",
        "ema_50",
        "rsi_14",
        "macd",
        "macd_signal",
        "bollinger_upper",
        "bollinger_lower",
        "atr_14",
        "adx_14",
    ):
        lines.append(f"  {name:<16} {values[name]:>12.2f}")
    lines += ["", "most frequent candlestick patterns"]
    lines += [f"  {name:<24} {count:>5}" for name, count in report["candlestick_patterns"].items()]
    lines += [
        "",
        "chart patterns (swing order 10)",
        f"  swing highs / lows       {chart['swing_highs']} / {chart['swing_lows']}",
        f"  breakouts with volume    {chart['breakouts_with_volume']}",
        f"  double tops / bottoms    {chart['double_tops']} / {chart['double_bottoms']}",
        f"  head-and-shoulders       {chart['head_and_shoulders']} "
        f"(inverse {chart['inverse_head_and_shoulders']})",
    ]
    lines += [
        f"  {level['kind']:<10} level at {level['price']:>10.2f} ({level['touches']} touches)"
        for level in chart["levels"]
    ]
    lines += ["", "backtests (commission 0.1% a side, default parameters)"]
    lines.append(f"  {'strategy':<20} {'return %':>9} {'sharpe':>7} {'max dd %':>9} {'trades':>7}")
    for name, stats in report["backtests"].items():
        lines.append(
            f"  {name:<20} {stats['total_return_pct']:>9.2f} {stats['sharpe']:>7.2f} "
            f"{stats['max_drawdown_pct']:>9.2f} {stats['n_trades']:>7}"
        )
    if report.get("saved_runs"):
        lines += [
            "",
            f"saved {len(report['saved_runs'])} runs to the database: see 'quantdesk runs list'",
        ]
    return "\n".join(lines)


def _describe_load(load: dict[str, Any]) -> str:
    how = "cache hit" if load["cache_hit"] else "fetched from the source"
    return f"{how} in {load['seconds'] * 1e3:.0f} ms"
