"""The gap report."""

from __future__ import annotations

import pandas as pd
import pytest

from quantdesk.core.gaps import GAP_COLUMNS, gap_report
from quantdesk.errors import InvalidInputError
from tests.frames import bars_from_closes


def test_complete_series_has_no_gaps() -> None:
    report = gap_report(bars_from_closes(range(1, 50)), "1h")
    assert report.empty
    assert tuple(report.columns) == GAP_COLUMNS


def test_gaps_are_located_and_measured() -> None:
    bars = bars_from_closes(range(1, 25))
    holey = bars.drop(bars.index[[5, 6, 7, 15]])
    report = gap_report(holey, "1h")
    assert list(report["missing_bars"]) == [3, 1]
    assert report["gap_start"].iloc[0] == pd.Timestamp("2024-01-01 05:00", tz="UTC")
    assert report["gap_end"].iloc[0] == pd.Timestamp("2024-01-01 08:00", tz="UTC")
    assert report["duration"].iloc[0] == pd.Timedelta(hours=3)
    assert list(gap_report(holey, "1h", minimum_missing_bars=2)["missing_bars"]) == [3]


def test_bad_arguments_are_refused() -> None:
    bars = bars_from_closes([1, 2, 3])
    with pytest.raises(InvalidInputError, match="at least 1"):
        gap_report(bars, "1h", minimum_missing_bars=0)
    with pytest.raises(InvalidInputError, match="validate_ohlcv"):
        gap_report(bars.iloc[::-1], "1h")
