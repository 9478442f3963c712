"""Market data: load bars by address, list the sources, resample bars and find their gaps.

Loading reads the settings (cache directory, default timeframe, API keys)
from the environment unless given them. :func:`resample_ohlcv` and
:func:`gap_report` take a frame or what :func:`load_bars` returned, whose
timeframe they then know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from quantdesk.config import Settings
from quantdesk.core import gaps, resample
from quantdesk.core.resample import Anchor
from quantdesk.core.time_range import TimeLike
from quantdesk.core.timeframe import Timeframe
from quantdesk.data import loader
from quantdesk.data.loader import LoadResult
from quantdesk.data.source import DataSource, SourceAddress, available_sources
from quantdesk.errors import InvalidInputError

__all__ = [
    "Bars",
    "DataSource",
    "LoadResult",
    "SourceAddress",
    "SourceInfo",
    "Timeframe",
    "gap_report",
    "list_sources",
    "load",
    "load_bars",
    "resample_ohlcv",
]

Bars = pd.DataFrame | LoadResult
"""Bars as the API takes them: a canonical OHLCV frame, or what :func:`load_bars` returned."""


@dataclass(frozen=True)
class SourceInfo:
    """One data source, as :func:`list_sources` describes it.

    Attributes
    ----------
    name
        The name addresses start with (``sample`` in ``sample:BTC/USDT``).
    description
        What it serves.
    cached
        Whether its bars are kept in the cache.
    class_path
        Its class as ``module:QualifiedName``.
    """

    name: str
    description: str
    cached: bool
    class_path: str

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-ready values."""
        return {
            "name": self.name,
            "description": self.description,
            "cached": self.cached,
            "class": self.class_path,
        }


def load_bars(
    address: str | SourceAddress,
    *,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    use_cache: bool = True,
    settings: Settings | None = None,
) -> LoadResult:
    """The bars at ``address`` (``"sample:BTC/USDT"``) starting in ``[start, end)``.

    ``timeframe`` is the source's only one (a CSV file's) or the settings'
    default when None; naive times are UTC, and the sample and CSV sources
    know their span when ``start`` or ``end`` is left out. ``use_cache=False``
    asks the source and leaves the cache alone. ``settings`` are read from
    the environment when None.

    Returns
    -------
    LoadResult
        The frame, with where it came from and how it was obtained.
    """
    return loader.load_bars(
        address, timeframe=timeframe, start=start, end=end, settings=settings, use_cache=use_cache
    )


def load(
    address: str | SourceAddress,
    *,
    timeframe: Timeframe | str | None = None,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The frame of :func:`load_bars`, which explains the arguments.

    Returns
    -------
    pandas.DataFrame
        The canonical OHLCV frame.
    """
    return load_bars(address, timeframe=timeframe, start=start, end=end, settings=settings).frame


def list_sources() -> list[SourceInfo]:
    """Every data source, built in or installed by another package, sorted by name.

    Returns
    -------
    list of SourceInfo
        One entry a source.
    """
    return [
        SourceInfo(
            name=name,
            description=source_class.description,
            cached=source_class.cacheable,
            class_path=f"{source_class.__module__}:{source_class.__qualname__}",
        )
        for name, source_class in available_sources().items()
    ]


def resample_ohlcv(
    bars: Bars,
    timeframe: Timeframe | str,
    *,
    source_timeframe: Timeframe | str | None = None,
    anchor: Anchor = "session",
) -> pd.DataFrame:
    """Aggregate bars into coarser bars (see :mod:`quantdesk.core.resample`).

    Parameters
    ----------
    bars
        :data:`Bars`: a frame, or a :class:`LoadResult`.
    timeframe
        The coarser bar length, for example ``"1d"``.
    source_timeframe
        The bars' own length; a :class:`LoadResult`'s when None, else inferred
        from the frame. Giving one that contradicts the loaded bars' is refused.
    anchor
        ``"session"`` buckets from each session's start, ``"epoch"`` from 1970.

    Returns
    -------
    pandas.DataFrame
        The coarser canonical frame.
    """
    frame, known = _frame_and_timeframe(
        bars, source_timeframe, "resample_ohlcv", "source_timeframe"
    )
    return resample.resample_ohlcv(frame, timeframe, source_timeframe=known, anchor=anchor)


def gap_report(
    bars: Bars,
    timeframe: Timeframe | str | None = None,
    *,
    minimum_missing_bars: int = 1,
) -> pd.DataFrame:
    """The stretches where bars are missing between two present bars.

    ``bars`` is a frame, whose ``timeframe`` must be given, or a
    :class:`LoadResult`, which knows its own; only gaps of at least
    ``minimum_missing_bars`` bars are reported.

    Returns
    -------
    pandas.DataFrame
        One row a gap: ``gap_start``, ``gap_end``, ``missing_bars`` and
        ``duration``, in time order.
    """
    frame, known = _frame_and_timeframe(bars, timeframe, "gap_report", "timeframe")
    if known is None:
        raise InvalidInputError(
            "gap_report needs the frame's timeframe; pass it, e.g. gap_report(frame, '1h')"
        )
    return gaps.gap_report(frame, known, minimum_missing_bars=minimum_missing_bars)


def _frame_and_timeframe(
    bars: object, given: Timeframe | str | None, caller: str, parameter: str
) -> tuple[pd.DataFrame, Timeframe | str | None]:
    """The frame of ``bars`` and its timeframe: the one given, or the loaded bars' own."""
    if isinstance(bars, pd.DataFrame):
        return bars, given
    if not isinstance(bars, LoadResult):
        raise InvalidInputError(
            f"{caller} takes a frame of bars or what load_bars returned, not {type(bars).__name__}"
        )
    if given is not None and Timeframe.parse(given) != bars.timeframe:
        raise InvalidInputError(
            f"{parameter} {str(given)!r} contradicts the loaded bars' {bars.timeframe.text!r}; "
            f"leave {parameter} out"
        )
    return bars.frame, bars.timeframe
