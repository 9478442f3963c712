"""Bar timeframes from ``1m`` to ``1w``: parsing, validation and bucketing."""

from __future__ import annotations

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
_NANOSECONDS_PER_SECOND = 1_000_000_000
# Weekly buckets start on Monday 00:00 UTC, as exchanges publish them; 1970-01-05 was a Monday.
_WEEK_ORIGIN_SECONDS = 4 * 86_400


@dataclass(frozen=True, order=True)
class Timeframe:
    """A bar length between one minute and one week.

    Build one with :meth:`parse`; ``Timeframe.parse("4h")``. Instances compare by
    length, print as their canonical text (``"60m"`` prints as ``"1h"``) and are
    hashable, so they serve as dictionary keys and cache partition names.
    """

    seconds: int
    MINIMUM_SECONDS: ClassVar[int] = 60
    MAXIMUM_SECONDS: ClassVar[int] = 604_800

    def __post_init__(self) -> None:
        if not isinstance(self.seconds, int) or isinstance(self.seconds, bool):
            raise InvalidInputError(f"timeframe seconds must be an int, got {self.seconds!r}")
        if self.seconds % 60 != 0:
            raise InvalidInputError(
                f"timeframe of {self.seconds} s is not a whole number of minutes; use e.g. '1m'"
            )
        if not self.MINIMUM_SECONDS <= self.seconds <= self.MAXIMUM_SECONDS:
            raise InvalidInputError(
                f"timeframe of {self.seconds} s is outside the supported range 1m to 1w"
            )

    @classmethod
    def parse(cls, value: str | Timeframe) -> Timeframe:
        """Parse text such as ``"15m"``, ``"4h"``, ``"1d"`` or ``"1w"``.

        Parameters
        ----------
        value
            The timeframe text, or a ``Timeframe`` (returned unchanged).

        Returns
        -------
        Timeframe
            The parsed timeframe.

        Raises
        ------
        InvalidInputError
            When the text is not a count and a unit (m, h, d, w), is a month
            (``1M``), or lies outside 1m to 1w.
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
                "write a count and a unit (m, h, d, w), e.g. '15m'"
            )
        count, unit_text = int(match.group(1)), match.group(2)
        if unit_text == "M" or unit_text.lower() in {"mo", "mon", "month", "months"}:
            raise InvalidInputError(
                f"timeframe {value!r} is a month; the largest supported timeframe is '1w'"
            )
        unit = _UNIT_ALIASES.get(unit_text.lower(), unit_text.lower())
        if unit not in _UNIT_SECONDS:
            raise InvalidInputError(
                f"unknown timeframe unit {unit_text!r} in {value!r}; use m, h, d or w, e.g. '4h'"
            )
        if count <= 0:
            raise InvalidInputError(
                f"timeframe {value!r} must have a positive count, e.g. '1{unit}'"
            )
        seconds = count * _UNIT_SECONDS[unit]
        if not cls.MINIMUM_SECONDS <= seconds <= cls.MAXIMUM_SECONDS:
            raise InvalidInputError(
                f"timeframe {value!r} is outside the supported range; pick one from '1m' to '1w'"
            )
        return cls(seconds)

    @property
    def text(self) -> str:
        """The canonical text, using the largest unit that divides the length."""
        for unit in ("w", "d", "h", "m"):
            unit_seconds = _UNIT_SECONDS[unit]
            if self.seconds % unit_seconds == 0:
                return f"{self.seconds // unit_seconds}{unit}"
        raise AssertionError("unreachable: every timeframe is a whole number of minutes")

    @property
    def timedelta(self) -> pd.Timedelta:
        """The bar length as a pandas ``Timedelta``."""
        return pd.Timedelta(seconds=self.seconds)

    @property
    def nanoseconds(self) -> int:
        """The bar length in nanoseconds."""
        return self.seconds * _NANOSECONDS_PER_SECOND

    @property
    def origin_nanoseconds(self) -> int:
        """Where bucket boundaries start: the epoch, or its first Monday for weekly bars."""
        uses_week_origin = self.seconds % _UNIT_SECONDS["w"] == 0
        return (_WEEK_ORIGIN_SECONDS if uses_week_origin else 0) * _NANOSECONDS_PER_SECOND

    def is_multiple_of(self, other: Timeframe) -> bool:
        """Whether bars of ``other`` tile bars of this timeframe exactly."""
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
            The start of the bar each time falls in, in the same units.
        """
        origin = self.origin_nanoseconds
        offsets = np.asarray(times_nanoseconds, dtype=np.int64) - origin
        return np.floor_divide(offsets, self.nanoseconds) * self.nanoseconds + origin

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

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Timeframe({self.text!r})"


STANDARD_TIMEFRAMES: tuple[Timeframe, ...] = tuple(
    Timeframe.parse(text)
    for text in ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w")
)
