"""Bar timeframes from ``1m`` to ``1w`` and the calendar month ``1M``: parsing and bucketing.

``1M`` is one calendar month and ``1m`` one minute. A monthly bar is labelled
at its month's first day, 00:00 UTC, and runs to the next month's first day;
its length is 28 to 31 days, so it has no fixed ``seconds``: code that steps
or counts bars uses :meth:`Timeframe.shift`, :meth:`Timeframe.bucket_starts`
and :meth:`Timeframe.bars_between`, which follow the calendar.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError

_UNIT_SECONDS: dict[str, int] = {"m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
_PATTERN = re.compile(r"^\s*(\d+)\s*([a-zA-Z]+)\s*$")
_UNIT_ALIASES: dict[str, str] = {
    "min": "m",
    "minute": "m",
    "minutes": "m",
    "t": "m",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
}
_MONTH_UNITS = frozenset({"mo", "mon", "month", "months"})
_PANDAS_MONTH_UNITS = frozenset({"ME", "MS", "BM", "BME", "BMS"})
_UNIT_NAMES: dict[str, str] = {"m": "minute", "h": "hour", "d": "day", "w": "week"}
_NANOSECONDS_PER_SECOND = 1_000_000_000
_NANOSECONDS_PER_DAY = 86_400 * _NANOSECONDS_PER_SECOND
_LONGEST_MONTH = pd.Timedelta(days=31)
# Weekly buckets start on Monday 00:00 UTC, as exchanges publish them; 1970-01-05 was a Monday.
_WEEK_ORIGIN_SECONDS = 4 * 86_400


@functools.total_ordering
@dataclass(frozen=True)
class Timeframe:
    """A bar length between one minute and one week, or one calendar month.

    Build one with :meth:`parse`; ``Timeframe.parse("4h")``, ``Timeframe.parse("1M")``.
    Instances compare by length (a month after a week), print as their
    canonical text (``"60m"`` prints as ``"1h"``) and are hashable, so they
    serve as dictionary keys and cache partition names.
    """

    fixed_seconds: int = 0
    months: int = 0
    MINIMUM_SECONDS: ClassVar[int] = 60
    MAXIMUM_SECONDS: ClassVar[int] = 604_800

    def __post_init__(self) -> None:
        if self.months:
            if self.months != 1 or self.fixed_seconds:
                raise InvalidInputError(
                    f"a calendar-month timeframe is one month, got {self.months!r} months "
                    f"and {self.fixed_seconds!r} s; use Timeframe.parse('1M')"
                )
            return
        if not isinstance(self.fixed_seconds, int) or isinstance(self.fixed_seconds, bool):
            raise InvalidInputError(f"timeframe seconds must be an int, got {self.fixed_seconds!r}")
        if self.fixed_seconds % 60 != 0:
            raise InvalidInputError(
                f"timeframe of {self.fixed_seconds} s is not a whole number of minutes; "
                "use e.g. '1m'"
            )
        if not self.MINIMUM_SECONDS <= self.fixed_seconds <= self.MAXIMUM_SECONDS:
            raise InvalidInputError(
                f"timeframe of {self.fixed_seconds} s is outside the supported range 1m to 1w"
            )

    @classmethod
    def parse(cls, value: str | Timeframe) -> Timeframe:
        """Parse text such as ``"15m"``, ``"4h"``, ``"1d"``, ``"1w"`` or ``"1M"``.

        Parameters
        ----------
        value
            The timeframe text, or a ``Timeframe`` (returned unchanged). Units
            are read in any case except ``M``, a month, against ``m``, a
            minute; ``mo`` and ``month`` also name a month.

        Returns
        -------
        Timeframe
            The parsed timeframe.

        Raises
        ------
        InvalidInputError
            When the text is not a count and a unit (m, h, d, w, M), is a
            month other than ``1M`` (``15M`` asks whether minutes were meant),
            or lies outside 1m to 1w.
        """
        if isinstance(value, Timeframe):
            return value
        if not isinstance(value, str):
            raise InvalidInputError(
                f"timeframe must be text such as '1h', got {type(value).__name__} {value!r}"
            )
        match = _PATTERN.match(value)
        if match is None:
            raise InvalidInputError(
                f"cannot read timeframe {value!r}; "
                "write a count and a unit (m, h, d, w or M for a month), e.g. '15m'"
            )
        count, unit_text = int(match.group(1)), match.group(2)
        if unit_text in _PANDAS_MONTH_UNITS:
            raise InvalidInputError(
                f"timeframe {value!r} is pandas' spelling; did you mean '1M' (one calendar month)?"
            )
        if unit_text == "M" or unit_text.lower() in _MONTH_UNITS:
            return cls._parse_months(value, count, minutes_meant=unit_text == "M")
        unit = _UNIT_ALIASES.get(unit_text.lower(), unit_text.lower())
        if unit not in _UNIT_SECONDS:
            raise InvalidInputError(
                f"unknown timeframe unit {unit_text!r} in {value!r}; "
                "use m, h, d, w or M (month), e.g. '4h'"
            )
        if count <= 0:
            raise InvalidInputError(
                f"timeframe {value!r} must have a positive count, e.g. '1{unit}'"
            )
        seconds = count * _UNIT_SECONDS[unit]
        if not cls.MINIMUM_SECONDS <= seconds <= cls.MAXIMUM_SECONDS:
            raise InvalidInputError(
                f"timeframe {value!r} is outside the supported range; "
                "pick one from '1m' to '1w', or '1M'"
            )
        return cls(seconds)

    @classmethod
    def _parse_months(cls, value: str, count: int, *, minutes_meant: bool) -> Timeframe:
        if count == 1:
            return cls(months=1)
        if minutes_meant and cls.MINIMUM_SECONDS <= count * 60 <= cls.MAXIMUM_SECONDS:
            raise InvalidInputError(
                f"timeframe {value!r} would be {count} calendar months; "
                f"did you mean '{count}m' ({count} minutes) or '1M' (one month)?"
            )
        raise InvalidInputError(
            f"timeframe {value!r} is {count} calendar months; only '1M' is supported, "
            "so load '1M' bars and combine them"
        )

    @property
    def is_calendar_month(self) -> bool:
        """Whether this is the calendar month ``1M``, whose length varies."""
        return self.months > 0

    @property
    def seconds(self) -> int:
        """The bar length in seconds; refused for a calendar month."""
        self._refuse_a_month("seconds")
        return self.fixed_seconds

    @property
    def text(self) -> str:
        """The canonical text, using the largest unit that divides the length."""
        if self.is_calendar_month:
            return "1M"
        for unit in ("w", "d", "h", "m"):
            unit_seconds = _UNIT_SECONDS[unit]
            if self.fixed_seconds % unit_seconds == 0:
                return f"{self.fixed_seconds // unit_seconds}{unit}"
        raise AssertionError("unreachable: every timeframe is a whole number of minutes")

    @property
    def description(self) -> str:
        """The length in words: ``"4 hours"``, ``"1 calendar month (...)"``."""
        if self.is_calendar_month:
            return "1 calendar month (bars labelled at the month's first day, 00:00 UTC)"
        count, unit = int(self.text[:-1]), self.text[-1]
        return f"{count} {_UNIT_NAMES[unit]}{'' if count == 1 else 's'}"

    @property
    def timedelta(self) -> pd.Timedelta:
        """The bar length as a pandas ``Timedelta``; refused for a calendar month."""
        self._refuse_a_month("timedelta")
        return pd.Timedelta(seconds=self.fixed_seconds)

    @property
    def longest_timedelta(self) -> pd.Timedelta:
        """The longest a bar can be: 31 days for a month, else the fixed length."""
        return _LONGEST_MONTH if self.is_calendar_month else self.timedelta

    @property
    def nanoseconds(self) -> int:
        """The bar length in nanoseconds; refused for a calendar month."""
        return self.seconds * _NANOSECONDS_PER_SECOND

    @property
    def origin_nanoseconds(self) -> int:
        """Where bucket boundaries start: the epoch, or its first Monday for weekly bars."""
        uses_week_origin = self.seconds % _UNIT_SECONDS["w"] == 0
        return (_WEEK_ORIGIN_SECONDS if uses_week_origin else 0) * _NANOSECONDS_PER_SECOND

    def is_multiple_of(self, other: Timeframe) -> bool:
        """Whether bars of ``other`` tile bars of this timeframe exactly.

        A month is tiled by months and by timeframes that divide a day (a
        month starts at 00:00 UTC); weeks do not tile months.
        """
        if self.is_calendar_month or other.is_calendar_month:
            if other.is_calendar_month:
                return self.is_calendar_month
            return _UNIT_SECONDS["d"] % other.fixed_seconds == 0
        return self.seconds % other.seconds == 0 and (
            self.origin_nanoseconds % other.nanoseconds
            == other.origin_nanoseconds % other.nanoseconds
        )

    def bucket_starts(self, times_nanoseconds: np.ndarray) -> np.ndarray:
        """Floor epoch-nanosecond times to the start of their bar.

        Parameters
        ----------
        times_nanoseconds
            Integer nanoseconds since the epoch (UTC).

        Returns
        -------
        numpy.ndarray
            The start of the bar each time falls in, in the same units: the
            first day of its month, 00:00 UTC, for ``1M``.
        """
        times = np.asarray(times_nanoseconds, dtype=np.int64)
        if self.is_calendar_month:
            return _month_starts(_month_numbers(times))
        origin = self.origin_nanoseconds
        offsets = times - origin
        return np.floor_divide(offsets, self.nanoseconds) * self.nanoseconds + origin

    def shift_nanoseconds(self, times_nanoseconds: np.ndarray, bars: int = 1) -> np.ndarray:
        """Move epoch-nanosecond times by whole bars, following the calendar for ``1M``.

        Parameters
        ----------
        times_nanoseconds
            Integer nanoseconds since the epoch (UTC); bar starts, usually.
        bars
            How many bars to move, negative for earlier.

        Returns
        -------
        numpy.ndarray
            The moved times. A month keeps each time's day of the month and
            time of day, the day clamped to the month's last (2024-03-31
            less a month is 2024-02-29), as ``pandas.DateOffset`` does.
        """
        times = np.asarray(times_nanoseconds, dtype=np.int64)
        if not self.is_calendar_month:
            return times + bars * self.nanoseconds
        return _shift_months(times, np.full(times.shape, bars, dtype=np.int64))

    def shift(self, moment: pd.Timestamp, bars: int = 1) -> pd.Timestamp:
        """The time ``bars`` bars after ``moment``: a bar's end from its start.

        Parameters
        ----------
        moment
            A time zone aware timestamp.
        bars
            How many bars to move, negative for earlier.

        Returns
        -------
        pandas.Timestamp
            The moved time, in UTC.
        """
        nanoseconds = pd.Timestamp(moment).tz_convert("UTC").as_unit("ns").value
        moved = self.shift_nanoseconds(np.array([nanoseconds], dtype=np.int64), bars)
        return pd.Timestamp(int(moved[0]), tz="UTC")

    def bars_between(self, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
        """How many whole bars fit from each ``earlier`` bar start to each ``later`` one.

        Parameters
        ----------
        earlier, later
            Integer nanoseconds since the epoch (UTC), of equal shapes.

        Returns
        -------
        numpy.ndarray
            The int64 counts; calendar months are counted for ``1M``.
        """
        first = np.asarray(earlier, dtype=np.int64)
        last = np.asarray(later, dtype=np.int64)
        if not self.is_calendar_month:
            quotients: np.ndarray = np.floor_divide(last - first, self.nanoseconds)
            return quotients
        counts = _month_numbers(last) - _month_numbers(first)
        whole: np.ndarray = counts - (_shift_months(first, counts) > last)
        return whole

    def bar_start(self, moment: pd.Timestamp) -> pd.Timestamp:
        """The start of the bar ``moment`` falls in.

        Parameters
        ----------
        moment
            A time zone aware timestamp.

        Returns
        -------
        pandas.Timestamp
            The bar's start, in UTC.
        """
        nanoseconds = pd.Timestamp(moment).tz_convert("UTC").as_unit("ns").value
        return pd.Timestamp(int(self.bucket_starts(np.array([nanoseconds]))[0]), tz="UTC")

    def _refuse_a_month(self, accessor: str) -> None:
        if self.is_calendar_month:
            raise InvalidInputError(
                f"a calendar month (1M) has no fixed length, so no {accessor}; "
                "step with Timeframe.shift and count with Timeframe.bars_between"
            )

    def _sort_key(self) -> tuple[int, int]:
        return (self.months, self.fixed_seconds)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Timeframe):
            return NotImplemented
        return self._sort_key() < other._sort_key()

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Timeframe({self.text!r})"


def _month_numbers(times_nanoseconds: np.ndarray) -> np.ndarray:
    """Months since January 1970 of epoch-nanosecond times (UTC), negative before."""
    return _in_other_unit(times_nanoseconds, "datetime64[ns]", "datetime64[M]")


def _shift_months(times_nanoseconds: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Move each time by its count of months, the day clamped to the month's last."""
    own_months = _month_numbers(times_nanoseconds)
    offsets = times_nanoseconds - _month_starts(own_months)
    days, time_of_day = np.divmod(offsets, _NANOSECONDS_PER_DAY)
    starts = _month_starts(own_months + months)
    days_in_month = (_month_starts(own_months + months + 1) - starts) // _NANOSECONDS_PER_DAY
    shifted: np.ndarray = (
        starts + np.minimum(days, days_in_month - 1) * _NANOSECONDS_PER_DAY + time_of_day
    )
    return shifted


def _month_starts(month_numbers: np.ndarray) -> np.ndarray:
    """The first day, 00:00 UTC, of months counted from January 1970, in epoch nanoseconds."""
    return _in_other_unit(month_numbers, "datetime64[M]", "datetime64[ns]")


def _in_other_unit(counts: np.ndarray, unit: str, other_unit: str) -> np.ndarray:
    """Integer counts of one datetime64 unit since the epoch, floored to counts of another."""
    converted: np.ndarray = (
        np.asarray(counts, dtype=np.int64).view(unit).astype(other_unit).astype(np.int64)
    )
    return converted


MONTH = Timeframe(months=1)
"""The calendar month ``1M``."""

STANDARD_TIMEFRAMES: tuple[Timeframe, ...] = tuple(
    Timeframe.parse(text)
    for text in ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w", "1M")
)
