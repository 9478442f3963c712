"""The yfinance source: the real yfinance client against Yahoo's wire format, served offline."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import pandas as pd
import pytest

from quantdesk.cli import main
from quantdesk.config import Settings
from quantdesk.core.time_range import TimeLike, TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.loader import load_bars
from quantdesk.data.retry import RetryClock, RetryPolicy
from quantdesk.data.source import get_source
from quantdesk.data.sources.yfinance_source import YfinanceSource
from quantdesk.errors import (
    DataRepairWarning,
    FatalSourceError,
    RateLimitError,
    RetryableSourceError,
)
from tests.fake_yahoo import (
    CRUMB,
    ChartRequest,
    FakeYahoo,
    expected_bars,
    isolate_yfinance,
    serving_fake_yahoo,
    session_starts,
)

DAY = pd.Timedelta(days=1)
TODAY = pd.Timestamp.now(tz="UTC").floor("D")


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    with serving_fake_yahoo(monkeypatch) as fake:
        yield fake


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits, recorded instead of slept; jitter draws half the cap."""
    recorded: list[float] = []
    clock = RetryClock(sleep=recorded.append, draw=lambda: 0.5)
    monkeypatch.setattr(YfinanceSource, "retry_clock", clock)
    monkeypatch.setattr(YfinanceSource, "retry_policy", RetryPolicy(attempts=4, base_delay=1.0))
    return recorded


@pytest.fixture
def source(settings_in: Settings, waits: list[float]) -> YfinanceSource:
    built = get_source("yfinance", settings_in)
    assert isinstance(built, YfinanceSource)
    return built


def fetch(
    source: YfinanceSource, symbol: str, timeframe: str, start: TimeLike, end: TimeLike
) -> pd.DataFrame:
    return source.fetch(symbol, timeframe, TimeRange.of(start, end))


def daily_expected(symbol: str, start: str, end: str) -> pd.DataFrame:
    """The fake's daily bars of ``[start, end)``, stamped by trading date at 00:00 UTC."""
    opens = session_starts(
        symbol, pd.Timestamp(start, tz="UTC") - DAY, pd.Timestamp(end, tz="UTC") + DAY, 1440
    )
    stamps = [
        pd.Timestamp(moment.tz_convert("America/New_York").date(), tz="UTC") for moment in opens
    ]
    frame = expected_bars(symbol, opens, 1440, stamps=stamps)
    return frame[(frame.index >= start) & (frame.index < pd.Timestamp(end, tz="UTC"))]


def at_midnight(frame: pd.DataFrame) -> bool:
    index = pd.DatetimeIndex(frame.index)
    return bool((index == index.normalize()).all())


def history(requests: list[ChartRequest]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    return [(request.start, request.end) for request in requests]


def test_daily_bars_are_yahoos_unadjusted_prices_stamped_by_date(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    frame = fetch(source, "AAPL", "1d", "2024-01-01", "2024-01-13")

    expected = daily_expected("AAPL", "2024-01-01", "2024-01-13")
    assert len(expected) == 10  # ten weekdays; the fake has no holidays
    pd.testing.assert_frame_equal(frame, expected)
    assert at_midnight(frame)
    # One chart request, reaching a day past each end; the crumb dance came first.
    assert history(yahoo.history_requests) == [
        (pd.Timestamp("2023-12-31", tz="UTC"), pd.Timestamp("2024-01-14", tz="UTC"))
    ]
    request = yahoo.history_requests[0]
    assert request.interval == "1d"
    assert request.crumb == CRUMB
    assert request.cookie is not None
    assert request.cookie.startswith("A3=")
    assert yahoo.cookie_requests >= 1
    assert yahoo.crumb_requests == 1


def test_index_and_crypto_symbols_reach_yahoo_as_written(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    index = fetch(source, "^GSPC", "1d", "2024-03-04", "2024-03-09")
    crypto = fetch(source, "btc-usd", "1d", "2024-03-04", "2024-03-09")

    assert len(index) == 5
    pd.testing.assert_frame_equal(index, daily_expected("^GSPC", "2024-03-04", "2024-03-09"))
    # Crypto trades every day; its daily bars start at 00:00 UTC on Yahoo too.
    days = list(pd.date_range("2024-03-04", "2024-03-08", freq="D", tz="UTC"))
    pd.testing.assert_frame_equal(crypto, expected_bars("BTC-USD", days, 1440), check_freq=False)
    assert [request.symbol for request in yahoo.history_requests] == ["^GSPC", "BTC-USD"]


def test_intraday_bars_keep_yahoos_start_times_in_utc(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    start, end = TODAY - 7 * DAY, TODAY - 2 * DAY
    frame = fetch(source, "AAPL", "1h", start, end)

    starts = session_starts("AAPL", start, end, 60)
    assert starts, "the range holds weekdays"
    pd.testing.assert_frame_equal(frame, expected_bars("AAPL", starts, 60))
    # New York's session opens at 09:30, so hourly bars start at half past.
    assert set(pd.DatetimeIndex(frame.index).minute) == {30}
    assert history(yahoo.history_requests) == [(start, end)]


@pytest.mark.parametrize(
    ("timeframe", "start", "end", "labels", "length"),
    [
        (
            *("1w", "2024-01-01", "2024-01-29"),
            pd.date_range("2024-01-01", periods=4, freq="7D", tz="UTC"),
            pd.DateOffset(weeks=1),
        ),
        (
            *("1M", "2024-01-15", "2024-04-01"),
            pd.date_range("2024-02-01", periods=2, freq="MS", tz="UTC"),
            pd.DateOffset(months=1),
        ),
    ],
)
def test_weekly_and_monthly_bars_are_built_from_daily_bars_from_monday_and_the_first(
    source: YfinanceSource,
    yahoo: FakeYahoo,
    timeframe: str,
    start: str,
    end: str,
    labels: pd.DatetimeIndex,
    length: pd.DateOffset,
) -> None:
    frame = fetch(source, "AAPL", timeframe, start, end)
    daily = daily_expected("AAPL", "2024-01-01", end)
    assert list(frame.index) == list(labels)
    for label, bar in frame.iterrows():
        days = daily[(daily.index >= label) & (daily.index < label + length)]
        assert bar["open"] == days["open"].iloc[0]
        assert bar["high"] == days["high"].max()
        assert bar["low"] == days["low"].min()
        assert bar["close"] == days["close"].iloc[-1]
        assert bar["volume"] == pytest.approx(days["volume"].sum(), rel=1e-12)
    assert all(request.interval == "1d" for request in yahoo.history_requests)


def test_a_long_one_minute_range_is_fetched_in_seven_day_windows(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    start, end = TODAY - 12 * DAY, TODAY - 2 * DAY
    frame = fetch(source, "AAPL", "1m", start, end)

    assert history(yahoo.history_requests) == [(start, start + 7 * DAY), (start + 7 * DAY, end)]
    starts = session_starts("AAPL", start, end, 1)
    pd.testing.assert_frame_equal(frame, expected_bars("AAPL", starts, 1))


def test_bars_repeated_across_window_boundaries_are_kept_once(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    yahoo.spill_before = 3  # each answer repeats the three bars before its window
    start, end = TODAY - 12 * DAY, TODAY - 2 * DAY
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRepairWarning)
        frame = fetch(source, "AAPL", "1m", start, end)

    assert len(yahoo.history_requests) == 2
    assert frame.index.is_unique
    pd.testing.assert_frame_equal(
        frame, expected_bars("AAPL", session_starts("AAPL", start, end, 1), 1)
    )


def test_a_rate_limit_is_waited_out_then_the_fetch_succeeds(
    source: YfinanceSource, yahoo: FakeYahoo, waits: list[float]
) -> None:
    # yfinance itself asks once more after a 429 (with a fresh cookie); both are refused.
    yahoo.fail_next(429, times=2)
    frame = fetch(source, "AAPL", "1d", "2024-01-01", "2024-01-13")

    pd.testing.assert_frame_equal(frame, daily_expected("AAPL", "2024-01-01", "2024-01-13"))
    assert len(yahoo.history_requests) == 3
    assert waits == [0.5]  # one jittered wait: half of base_delay * 2**0


def test_a_rate_limit_honours_retry_after(
    source: YfinanceSource, yahoo: FakeYahoo, waits: list[float]
) -> None:
    yahoo.fail_next(429, times=2, headers={"Retry-After": "7"})
    fetch(source, "AAPL", "1d", "2024-01-01", "2024-01-13")
    assert waits == [7.0]


def test_a_lasting_rate_limit_gives_up_after_the_policy_s_attempts(
    source: YfinanceSource, yahoo: FakeYahoo, waits: list[float]
) -> None:
    yahoo.fail_next(429, times=20)
    with pytest.raises(RateLimitError, match=r"gave up after 4 attempts \(Yahoo is rate-limiting"):
        fetch(source, "AAPL", "1d", "2024-01-01", "2024-01-13")
    assert len(yahoo.history_requests) == 8
    assert len(waits) == 3


def test_server_errors_and_dropped_connections_are_retried(
    source: YfinanceSource, yahoo: FakeYahoo, waits: list[float]
) -> None:
    yahoo.fail_next(502, times=2)
    yahoo.break_connection_next()
    frame = fetch(source, "AAPL", "1d", "2024-01-01", "2024-01-13")

    assert len(frame) == 10
    assert len(yahoo.history_requests) == 4
    assert len(waits) == 2


def test_a_lasting_server_error_is_a_retryable_error_naming_the_status(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    yahoo.fail_next(503, times=20)
    with pytest.raises(RetryableSourceError, match="Yahoo answered HTTP 503 for AAPL") as raised:
        fetch(source, "AAPL", "1d", "2024-01-01", "2024-01-13")
    assert not isinstance(raised.value, RateLimitError)


def test_an_unknown_symbol_is_fatal_at_once(
    source: YfinanceSource, yahoo: FakeYahoo, waits: list[float]
) -> None:
    with pytest.raises(FatalSourceError) as raised:
        fetch(source, "XYZQQ", "1d", "2024-01-01", "2024-01-13")

    message = str(raised.value)
    assert message.startswith(
        "Yahoo does not know symbol 'XYZQQ' (No data found, symbol may be delisted)"
    )
    assert "\n" not in message
    assert waits == []
    assert yahoo.timezone_requests == ["XYZQQ", "XYZQQ"]  # yfinance asks twice, then gives up
    assert yahoo.history_requests == []


def test_a_range_without_bars_is_empty_not_an_error(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    saturday = TODAY - ((TODAY.day_of_week - 5) % 7 or 7) * DAY
    frame = fetch(source, "AAPL", "1h", saturday, saturday + 2 * DAY)

    assert frame.empty
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert len(yahoo.history_requests) == 1


def test_missing_and_empty_bars_are_gaps(source: YfinanceSource, yahoo: FakeYahoo) -> None:
    start, end = TODAY - 5 * DAY, TODAY - 1 * DAY
    starts = session_starts("AAPL", start, end, 5)
    dropped, nulled = starts[3], starts[10]
    yahoo.drop("AAPL", dropped)
    yahoo.null("AAPL", nulled)

    frame = fetch(source, "AAPL", "5m", start, end)

    kept = [moment for moment in starts if moment not in (dropped, nulled)]
    pd.testing.assert_frame_equal(frame, expected_bars("AAPL", kept, 5))
    assert not frame.isna().any().any()


def test_a_widened_range_fetches_only_the_new_part(
    settings_in: Settings, yahoo: FakeYahoo, waits: list[float]
) -> None:
    first = load_bars(
        "yfinance:AAPL", timeframe="1d", start="2024-01-01", end="2024-02-01", settings=settings_in
    )
    assert len(yahoo.history_requests) == 1
    assert first.rows == 23

    widened = load_bars(
        "yfinance:aapl", timeframe="1d", start="2023-12-01", end="2024-03-01", settings=settings_in
    )
    new_requests = history(yahoo.history_requests[1:])
    # The first new window reaches the first cached bar (2024-01-01) to check it was not restated.
    assert new_requests == [
        (pd.Timestamp("2023-11-30", tz="UTC"), pd.Timestamp("2024-01-03", tz="UTC")),
        (pd.Timestamp("2024-01-31", tz="UTC"), pd.Timestamp("2024-03-02", tz="UTC")),
    ]
    assert [(piece.start, piece.end) for piece in widened.fetched_ranges] == [
        (pd.Timestamp("2023-12-01", tz="UTC"), pd.Timestamp("2024-01-01", tz="UTC")),
        (pd.Timestamp("2024-02-01", tz="UTC"), pd.Timestamp("2024-03-01", tz="UTC")),
    ]
    pd.testing.assert_frame_equal(widened.frame, daily_expected("AAPL", "2023-12-01", "2024-03-01"))

    again = load_bars(
        "yfinance:AAPL", timeframe="1d", start="2023-12-01", end="2024-03-01", settings=settings_in
    )
    assert again.cache_hit
    assert len(yahoo.history_requests) == 3


def test_an_unsupported_timeframe_is_refused_before_asking_yahoo(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    with pytest.raises(
        FatalSourceError,
        match=r"Yahoo has no 4h bars; use one of 1m, 2m, 5m, 15m, 30m, 1h, 90m, 1d, 1w, 1M",
    ):
        fetch(source, "AAPL", "4h", "2024-01-01", "2024-01-13")
    assert yahoo.timezone_requests == []
    assert yahoo.history_requests == []


def test_a_range_older_than_yahoo_keeps_is_refused_naming_the_limit(
    source: YfinanceSource, yahoo: FakeYahoo
) -> None:
    with pytest.raises(
        FatalSourceError,
        match="Yahoo keeps 1m bars for the last 30 days only; ask for a start after",
    ):
        fetch(source, "AAPL", "1m", TODAY - 40 * DAY, TODAY - 38 * DAY)
    with pytest.raises(FatalSourceError, match="last 60 days only"):
        fetch(source, "AAPL", "15m", TODAY - 61 * DAY, TODAY - 58 * DAY)
    assert yahoo.history_requests == []


def test_a_pair_written_with_a_slash_is_refused_with_yahoos_spelling(
    source: YfinanceSource,
) -> None:
    with pytest.raises(FatalSourceError, match="use yfinance:BTC-USD, not yfinance:btc/usd"):
        fetch(source, "btc/usd", "1d", "2024-01-01", "2024-01-13")


def test_intraday_loads_without_a_start_cover_what_yahoo_keeps(source: YfinanceSource) -> None:
    span = source.available_range("AAPL", Timeframe.parse("5m"))
    assert span is not None
    assert pd.Timedelta(days=59) < span.duration <= pd.Timedelta(days=60)
    assert source.available_range("AAPL", Timeframe.parse("1d")) is None


@pytest.mark.online
def test_real_yahoo_daily_bars(settings_in: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_yfinance(monkeypatch)
    source = YfinanceSource(settings_in)
    frame = source.fetch("AAPL", "1d", TimeRange.of("2024-01-01", "2024-02-01"))

    # January 2024 had 21 NYSE sessions (New Year's Day and Martin Luther King Day closed).
    assert len(frame) == 21
    assert frame.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert at_midnight(frame)
    assert frame["close"].between(100, 300).all()
    assert (frame["volume"] > 0).all()


def test_the_cli_fetches_daily_bars_through_the_cache(
    yahoo: FakeYahoo, waits: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    words = ["data", "fetch", "yfinance:AAPL", "-t", "1d", "--start", "2024-01-02"]
    words += ["--end", "2024-02-01", "--json"]
    assert main(words) == 0
    fetched = json.loads(capsys.readouterr().out)
    expected = daily_expected("AAPL", "2024-01-02", "2024-02-01")
    assert (fetched["source"], fetched["rows"], fetched["cache_hit"]) == (
        "yfinance",
        len(expected),
        False,
    )
    asked = len(yahoo.history_requests)
    assert main(words) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"] is True
    assert len(yahoo.history_requests) == asked


def test_the_cli_reports_an_unknown_symbol_on_one_line(
    yahoo: FakeYahoo, waits: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    words = ["data", "fetch", "yfinance:NOSUCHSYMBOL", "-t", "1d", "--start", "2024-01-02"]
    assert main([*words, "--end", "2024-02-01"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "NOSUCHSYMBOL" in error


def test_the_declared_yfinance_requirement_is_the_1x_line_the_adapter_uses() -> None:
    """``yfinance.config.debug.hide_exceptions`` and 1.x errors: no 0.2 release has both."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    declared = [Requirement(line) for line in project["project"]["dependencies"]]
    specifier = next(item.specifier for item in declared if item.name == "yfinance")
    assert not specifier.contains("0.2.66")
    assert not specifier.contains("1.0")
    assert specifier.contains(version("yfinance"))
