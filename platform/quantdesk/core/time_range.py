"""Half-open UTC time ranges ``[start, end)`` and their arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from quantdesk.errors import InvalidInputError

TimeLike = str | date | datetime | pd.Timestamp


def to_utc_timestamp(value: TimeLike, *, name: str = "time") -> pd.Timestamp:
    """Read a time as a UTC ``Timestamp``; naive input is taken as UTC.

    Parameters
    ----------
    value
        ISO text such as ``"2024-01-01"`` or ``"2024-01-01T12:00Z"``, a
        ``date``, a ``datetime`` or a ``Timestamp``.
    name
        What the value is, for the error message (``"start"``).

    Returns
    -------
    pandas.Timestamp
        The time in UTC with nanosecond resolution.
    """
    try:
        timestamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InvalidInputError(
            f"cannot read {name} {value!r} as a time; use ISO format such as '2024-01-31'"
        ) from None
    if pd.isna(timestamp):
        raise InvalidInputError(f"{name} is missing; give a time such as '2024-01-31'")
    if timestamp.tzinfo is None:
        timestamp = timestamp.tz_localize("UTC")
    return timestamp.tz_convert("UTC").as_unit("ns")


@dataclass(frozen=True)
class TimeRange:
    """The half-open range ``[start, end)`` in UTC; ``end`` is not included."""

    start: pd.Timestamp
    end: pd.Timestamp

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise InvalidInputError(
                f"start {self.start} is not before end {self.end}; the end is exclusive"
            )

    @classmethod
    def of(cls, start: TimeLike, end: TimeLike) -> TimeRange:
        """Build a range from any two time-like values.

        Parameters
        ----------
        start
            The first instant included.
        end
            The first instant excluded.

        Returns
        -------
        TimeRange
            The range in UTC.
        """
        return cls(to_utc_timestamp(start, name="start"), to_utc_timestamp(end, name="end"))

    @property
    def duration(self) -> pd.Timedelta:
        """How long the range lasts."""
        return self.end - self.start

    def overlaps(self, other: TimeRange) -> bool:
        """Whether the two ranges share any instant."""
        return self.start < other.end and other.start < self.end

    def intersection(self, other: TimeRange) -> TimeRange | None:
        """The shared part of two ranges, or None when they do not overlap."""
        if not self.overlaps(other):
            return None
        return TimeRange(max(self.start, other.start), min(self.end, other.end))

    def subtract(self, covered: Iterable[TimeRange]) -> list[TimeRange]:
        """The parts of this range that ``covered`` does not cover, in order.

        Parameters
        ----------
        covered
            Ranges already available, in any order, possibly overlapping.

        Returns
        -------
        list of TimeRange
            The uncovered parts; empty when the range is fully covered.
        """
        missing: list[TimeRange] = []
        cursor = self.start
        for piece in merge_ranges(covered):
            if piece.end <= cursor:
                continue
            if piece.start >= self.end:
                break
            if piece.start > cursor:
                missing.append(TimeRange(cursor, piece.start))
            cursor = max(cursor, piece.end)
            if cursor >= self.end:
                break
        if cursor < self.end:
            missing.append(TimeRange(cursor, self.end))
        return missing

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def merge_ranges(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """Merge overlapping or touching ranges into a sorted list of disjoint ones.

    Parameters
    ----------
    ranges
        Ranges in any order.

    Returns
    -------
    list of TimeRange
        Disjoint ranges sorted by start; touching ranges are joined.
    """
    merged: list[TimeRange] = []
    for piece in sorted(ranges, key=lambda item: (item.start, item.end)):
        if merged and piece.start <= merged[-1].end:
            if piece.end > merged[-1].end:
                merged[-1] = TimeRange(merged[-1].start, piece.end)
        else:
            merged.append(piece)
    return merged
