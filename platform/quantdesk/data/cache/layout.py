"""Where a series lives under the cache root, and how names become directory names.

A series of bars lives in
``<root>/ohlcv/source=<source>/symbol=<symbol>/timeframe=<timeframe>/``.
Source and symbol are percent-escaped, so ``BTC/USDT`` becomes ``BTC%2FUSDT``;
a leading dot is escaped too, so no name can be ``.``, ``..`` or hidden. The
escaping is reversible, which lets the cache list its series from the
directory names alone.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

from quantdesk.core.timeframe import Timeframe
from quantdesk.data.cache.key import CacheKey
from quantdesk.errors import InvalidInputError

OHLCV_DIRECTORY = "ohlcv"
_SOURCE_PREFIX = "source="
_SYMBOL_PREFIX = "symbol="
_TIMEFRAME_PREFIX = "timeframe="
# Most filesystems cap one path component at 255 bytes.
_MAXIMUM_COMPONENT_BYTES = 255


def escape_name(name: str) -> str:
    """Turn any text into a safe, reversible file name component.

    Parameters
    ----------
    name
        The text, for example ``"BTC/USDT"``.

    Returns
    -------
    str
        The escaped text, for example ``"BTC%2FUSDT"``; only letters, digits
        and ``_.-~%`` remain, and it never starts with a dot.
    """
    escaped = quote(name, safe="")
    if escaped.startswith("."):
        escaped = "%2E" + escaped[1:]
    return escaped


def unescape_name(escaped: str) -> str:
    """Invert :func:`escape_name`.

    Parameters
    ----------
    escaped
        A component made by :func:`escape_name`.

    Returns
    -------
    str
        The original text.
    """
    return unquote(escaped)


def series_directory(root: Path, key: CacheKey) -> Path:
    """The directory that holds the files of one series.

    Parameters
    ----------
    root
        The cache root.
    key
        The series.

    Returns
    -------
    pathlib.Path
        ``<root>/ohlcv/source=.../symbol=.../timeframe=...``.

    Raises
    ------
    InvalidInputError
        When an escaped name is too long for a file name.
    """
    components = (
        _SOURCE_PREFIX + escape_name(key.source),
        _SYMBOL_PREFIX + escape_name(key.symbol),
        _TIMEFRAME_PREFIX + _timeframe_name(key.timeframe),
    )
    for component in components:
        if len(component.encode()) > _MAXIMUM_COMPONENT_BYTES:
            raise InvalidInputError(
                f"cache key {key} is too long for a directory name once escaped "
                f"({len(component.encode())} bytes, at most {_MAXIMUM_COMPONENT_BYTES})"
            )
    return root.joinpath(OHLCV_DIRECTORY, *components)


def series_directories(root: Path) -> list[tuple[CacheKey, Path]]:
    """Every series directory under the root whose name reads back as a key.

    Parameters
    ----------
    root
        The cache root.

    Returns
    -------
    list of (CacheKey, pathlib.Path)
        Keys and their directories, sorted by source, symbol and timeframe;
        directories with other names are ignored.
    """
    found: list[tuple[CacheKey, Path]] = []
    for source_directory in _children_with_prefix(root / OHLCV_DIRECTORY, _SOURCE_PREFIX):
        for symbol_directory in _children_with_prefix(source_directory, _SYMBOL_PREFIX):
            for timeframe_directory in _children_with_prefix(symbol_directory, _TIMEFRAME_PREFIX):
                key = _key_from_names(
                    source_directory.name, symbol_directory.name, timeframe_directory.name
                )
                if key is not None:
                    found.append((key, timeframe_directory))
    found.sort(key=lambda item: (item[0].source, item[0].symbol, item[0].timeframe))
    return found


def _children_with_prefix(directory: Path, prefix: str) -> list[Path]:
    if not directory.is_dir():
        return []
    return [
        child for child in directory.iterdir() if child.name.startswith(prefix) and child.is_dir()
    ]


def _key_from_names(source_name: str, symbol_name: str, timeframe_name: str) -> CacheKey | None:
    try:
        key = CacheKey.of(
            unescape_name(source_name.removeprefix(_SOURCE_PREFIX)),
            unescape_name(symbol_name.removeprefix(_SYMBOL_PREFIX)),
            timeframe_name.removeprefix(_TIMEFRAME_PREFIX),
        )
    except InvalidInputError:
        return None
    if (escape_name(key.source), escape_name(key.symbol)) != (
        source_name.removeprefix(_SOURCE_PREFIX),
        symbol_name.removeprefix(_SYMBOL_PREFIX),
    ) or _timeframe_name(key.timeframe) != timeframe_name.removeprefix(_TIMEFRAME_PREFIX):
        return None
    return key


def _timeframe_name(timeframe: Timeframe) -> str:
    # "1M" and "1m" would share a directory on case-insensitive file systems (macOS, Windows).
    return "1mo" if timeframe.is_calendar_month else timeframe.text
