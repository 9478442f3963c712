"""``quantdesk data``: fetch bars and list the sources."""

from __future__ import annotations

from typing import Any

import click

from quantdesk.cli.output import configure_logging, emit, json_option


@click.group("data")
def data() -> None:
    """Market data: fetch bars into the cache, list the sources."""


@data.command("fetch")
@click.argument("address")
@click.option("--timeframe", "-t", default=None, help="Bar length from 1m to 1w, e.g. 1h.")
@click.option("--start", default=None, help="First bar time included (ISO, UTC), e.g. 2024-01-01.")
@click.option("--end", default=None, help="First bar time excluded (ISO, UTC), e.g. 2024-03-01.")
@click.option("--no-cache", is_flag=True, help="Ask the source directly and leave the cache alone.")
@json_option
def fetch(
    address: str,
    timeframe: str | None,
    start: str | None,
    end: str | None,
    no_cache: bool,
    as_json: bool,
) -> None:
    """Fetch the bars at ADDRESS (SOURCE:SYMBOL, e.g. sample:BTC/USDT) into the cache."""
    from quantdesk.config import Settings
    from quantdesk.data.loader import load_bars

    settings = Settings.load()
    configure_logging(settings.log_level)
    result = load_bars(
        address,
        timeframe=timeframe,
        start=start,
        end=end,
        settings=settings,
        use_cache=not no_cache,
    )
    summary = result.summary()
    if result.cache_path is None:
        cache_line = "cache: not used"
    else:
        state = (
            "hit" if result.cache_hit else f"miss, fetched {len(result.fetched_ranges)} range(s)"
        )
        cache_line = f"cache: {state} ({result.cache_path})"
    text = "\n".join(
        [
            f"{result.address} {result.timeframe}: {result.rows} rows",
            f"first: {summary['start']}",
            f"last:  {summary['end']}",
            cache_line,
        ]
    )
    emit(summary, as_json=as_json, text=text)


@data.command("sources")
@json_option
def sources(as_json: bool) -> None:
    """List the data sources, built-in and installed by other packages."""
    from quantdesk.data.source import available_sources

    found = available_sources()
    payload = [
        {
            "name": name,
            "description": source_class.description,
            "cached": source_class.cacheable,
            "class": f"{source_class.__module__}:{source_class.__qualname__}",
        }
        for name, source_class in found.items()
    ]
    width = max((len(name) for name in found), default=0)
    text = "\n".join(f"{item['name']:<{width}}  {item['description']}" for item in payload)
    emit(payload, as_json=as_json, text=text)


@data.command("ls")
@json_option
def list_cache(as_json: bool) -> None:
    """List the cached series with their sizes and ranges."""
    from quantdesk.config import Settings
    from quantdesk.data.cache import ParquetStore

    store = ParquetStore.from_settings(Settings.load())
    entries = store.entries()
    payload: list[dict[str, Any]] = [
        {
            "source": entry.key.source,
            "symbol": entry.key.symbol,
            "timeframe": entry.key.timeframe.text,
            "rows": entry.rows,
            "first": None if entry.first is None else entry.first.isoformat(),
            "last": None if entry.last is None else entry.last.isoformat(),
            "size_bytes": entry.size_bytes,
            "coverage": [
                [piece.start.isoformat(), piece.end.isoformat()] for piece in entry.coverage
            ],
        }
        for entry in entries
    ]
    lines = [
        f"{entry.key.source}:{entry.key.symbol} {entry.key.timeframe}: {entry.rows} rows, "
        f"{entry.size_bytes / 1e6:.1f} MB, {entry.first} to {entry.last}"
        for entry in entries
    ]
    emit(payload, as_json=as_json, text="\n".join(lines) if lines else "the cache is empty")


@data.command("rm")
@click.argument("address")
@click.option("--timeframe", "-t", default=None, help="Remove only this timeframe; all by default.")
@json_option
def remove_from_cache(address: str, timeframe: str | None, as_json: bool) -> None:
    """Remove the cached bars of ADDRESS (SOURCE:SYMBOL)."""
    from quantdesk.config import Settings
    from quantdesk.core.timeframe import Timeframe
    from quantdesk.data.cache import ParquetStore
    from quantdesk.data.source import SourceAddress

    parsed = SourceAddress.parse(address)
    wanted = None if timeframe is None else Timeframe.parse(timeframe)
    store = ParquetStore.from_settings(Settings.load())
    removed = [
        entry.key
        for entry in store.entries()
        if (entry.key.source, entry.key.symbol) == (parsed.source, parsed.symbol)
        and (wanted is None or entry.key.timeframe == wanted)
    ]
    for key in removed:
        store.remove(key)
    payload = {
        "source": parsed.source,
        "symbol": parsed.symbol,
        "removed_timeframes": [key.timeframe.text for key in removed],
    }
    text = (
        f"removed {parsed} {', '.join(payload['removed_timeframes'])}"
        if removed
        else f"nothing cached for {parsed}{'' if wanted is None else f' {wanted}'}"
    )
    emit(payload, as_json=as_json, text=text)
