"""``quantdesk data``: fetch bars, list the sources, list and empty the cache."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from quantdesk.cli.output import configure_logging, emit, json_option, table_text

if TYPE_CHECKING:
    import pandas as pd


@click.group("data")
def data() -> None:
    """Market data: fetch bars into the cache, list the sources."""


@data.command("fetch")
@click.argument("address")
@click.option(
    "--timeframe",
    "-t",
    default=None,
    help="Bar length from 1m to 1w, or 1M (a calendar month), e.g. 1h.",
)
@click.option(
    "--start",
    default=None,
    help="First bar time included (ISO, UTC), e.g. 2024-01-01; the source's first if it knows.",
)
@click.option(
    "--end",
    default=None,
    help="First bar time excluded (ISO, UTC), e.g. 2024-03-01; the source's last bar, or now.",
)
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
    from quantdesk.api.data import load_bars
    from quantdesk.config import Settings

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
    from quantdesk.api.data import list_sources

    found = list_sources()
    payload = [source.to_json() for source in found]
    width = max((len(source.name) for source in found), default=0)
    text = "\n".join(f"{source.name:<{width}}  {source.description}" for source in found)
    emit(payload, as_json=as_json, text=text)


@data.command("ls")
@click.option("--source", default=None, help="Only the series of this source, e.g. sample.")
@click.option("--symbol", default=None, help="Only the series of this symbol, e.g. BTC/USDT.")
@json_option
def list_cache(source: str | None, symbol: str | None, as_json: bool) -> None:
    """List the cached series: bar range, bars, chunk files, size on disk, last write."""
    from quantdesk.api.cache import list_cached_series
    from quantdesk.config import Settings

    found = list_cached_series(Settings.load(), source=source, symbol=symbol)
    payload = [series.to_json() for series in found]
    if not found:
        wanted = " and ".join(
            f"{name} {value!r}"
            for name, value in (("source", source), ("symbol", symbol))
            if value is not None
        )
        text = f"nothing cached for {wanted}" if wanted else "the cache is empty"
        emit(payload, as_json=as_json, text=text)
        return
    header = (
        "series",
        "timeframe",
        "first bar (UTC)",
        "last bar (UTC)",
        "bars",
        "files",
        "size",
        "last written (UTC)",
    )
    rows = [
        (
            series.address,
            series.key.timeframe.text,
            _time_text(series.first),
            _time_text(series.last),
            f"{series.rows:,}",
            str(series.chunk_files),
            _size_text(series.size_bytes),
            _time_text(series.last_written),
        )
        for series in found
    ]
    total = (
        f"{len(found)} series, {sum(series.rows for series in found):,} bars, "
        f"{sum(series.chunk_files for series in found)} files, "
        f"{_size_text(sum(series.size_bytes for series in found))}"
    )
    emit(payload, as_json=as_json, text=f"{table_text(header, rows)}\n{total}")


@data.command("rm")
@click.argument("address", required=False)
@click.option(
    "--timeframe", "-t", default=None, help="Remove only this timeframe of ADDRESS; all by default."
)
@click.option(
    "--all", "every_series", is_flag=True, help="Remove every cached series (with --yes)."
)
@click.option("--yes", is_flag=True, help="Confirm --all.")
@json_option
def remove_from_cache(
    address: str | None, timeframe: str | None, every_series: bool, yes: bool, as_json: bool
) -> None:
    """Remove the cached bars of ADDRESS (SOURCE:SYMBOL), or of every series with --all."""
    from quantdesk.api.cache import remove_cached_series
    from quantdesk.api.data import SourceAddress
    from quantdesk.config import Settings
    from quantdesk.errors import InvalidInputError

    settings = Settings.load()
    if every_series and address is not None:
        raise InvalidInputError(f"pass either ADDRESS ({address}) or --all, not both")
    if every_series and timeframe is not None:
        raise InvalidInputError(
            "--timeframe does not go with --all; leave it out or name an ADDRESS"
        )
    if every_series and not yes:
        raise InvalidInputError(
            f"--all removes every series cached under {settings.resolved_cache_dir}; "
            "add --yes to confirm"
        )
    if not every_series and address is None:
        raise InvalidInputError(
            "name the series to remove, e.g. 'quantdesk data rm sample:BTC/USDT --timeframe 1h', "
            "or empty the cache with --all --yes"
        )
    parsed = None if address is None else SourceAddress.parse(address)
    removal = remove_cached_series(
        parsed, timeframe=timeframe, every_series=every_series, settings=settings
    )
    payload = {
        "source": None if parsed is None else parsed.source,
        "symbol": None if parsed is None else parsed.symbol,
        "removed_timeframes": [removed.key.timeframe.text for removed in removal.series],
        "removed": [removed.to_json() for removed in removal.series],
        "bytes_freed": removal.bytes_freed,
    }
    lines = [
        f"removed {removed.key.source}:{removed.key.symbol} {removed.key.timeframe}: "
        f"{removed.chunk_files} chunk file{'' if removed.chunk_files == 1 else 's'}, "
        f"{_size_text(removed.bytes_freed)}"
        for removed in removal.series
    ]
    lines.append(
        f"freed {_size_text(removal.bytes_freed)}" if lines else "the cache is already empty"
    )
    emit(payload, as_json=as_json, text="\n".join(lines))


def _time_text(time: pd.Timestamp | None) -> str:
    return "-" if time is None else f"{time:%Y-%m-%d %H:%M}"


def _size_text(size_bytes: int) -> str:
    """A size in bytes as a person reads it, in decimal units: ``812 B``, ``45.2 kB``."""
    size, unit = float(size_bytes), "B"
    for larger_unit in ("kB", "MB", "GB", "TB"):
        if size < 1000:
            break
        size, unit = size / 1000, larger_unit
    return f"{size_bytes} B" if unit == "B" else f"{size:.1f} {unit}"
