"""The Alpaca source: alpaca-py's real clients against Alpaca's wire format, faked over HTTP."""

from __future__ import annotations

import json
import logging
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pandas as pd
import pytest
import requests
import responses

from quantdesk.cli import main
from quantdesk.config import Settings
from quantdesk.core.time_range import TimeRange
from quantdesk.data import credentials
from quantdesk.data import source as source_module
from quantdesk.data.loader import load_bars
from quantdesk.data.retry import RetryClock, RetryPolicy
from quantdesk.data.source import get_source
from quantdesk.data.sources.alpaca_source import FEED_VARIABLE, KEY_VARIABLES, AlpacaSource
from quantdesk.errors import (
    DatabaseUnavailableError,
    DataRepairWarning,
    FatalSourceError,
    QuantdeskError,
    RateLimitError,
    RetryableSourceError,
    StoreError,
)
from tests.fake_alpaca import Failure, FakeAlpaca, bar, bar_series

KEY_ID = "PKTESTKEYID0123456789"
SECRET = "s3cr3t-Alpaca-Secret-Key-abcdefghij0123456789"
POLICY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=10.0)


class Recorder:
    """Waits recorded instead of slept; jitter draws one half."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.clock = RetryClock(sleep=self.waits.append, draw=lambda: 0.5)


@pytest.fixture(autouse=True)
def _no_alpaca_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline tests see no real key or feed setting; online ones keep them."""
    if request.node.get_closest_marker("online") is not None:
        return
    for name in (*KEY_VARIABLES, FEED_VARIABLE):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLES[0], KEY_ID)
    monkeypatch.setenv(KEY_VARIABLES[1], SECRET)


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeAlpaca(mock, key_id=KEY_ID, secret=SECRET)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def source(settings_in: Settings, recorder: Recorder) -> AlpacaSource:
    return AlpacaSource(settings_in, retry_policy=POLICY, retry_clock=recorder.clock)


def window(start: str, end: str) -> TimeRange:
    return TimeRange.of(start, end)


def expected_frame(bars: list[dict[str, Any]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(item["t"]) for item in bars], name="time")
    return pd.DataFrame(
        {name: [float(item[name[0]]) for item in bars] for name in ("open", "high", "low", "close")}
        | {"volume": [float(item["v"]) for item in bars]},
        index=index.as_unit("ns"),
    )


@pytest.mark.usefixtures("keys_in_environment")
def test_stock_bars_follow_next_page_token_across_pages(
    fake: FakeAlpaca, source: AlpacaSource
) -> None:
    bars = bar_series("2024-01-02T09:00Z", 25, "1h")
    fake.add_bars("AAPL", "1Hour", bars)
    fake.page_size = 10
    frame = source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-04"))
    pd.testing.assert_frame_equal(frame, expected_frame(bars))
    seen = fake.bars_requests()
    assert [request.path for request in seen] == ["/v2/stocks/bars"] * 3
    first = seen[0].parameters
    assert first["symbols"] == "AAPL"
    assert first["timeframe"] == "1Hour"
    assert (first["feed"], first["adjustment"], first["limit"]) == ("iex", "all", "10000")
    assert pd.Timestamp(first["start"]) == pd.Timestamp("2024-01-02", tz="UTC")
    assert pd.Timestamp(first["end"]) == pd.Timestamp("2024-01-04", tz="UTC")
    assert "page_token" not in first
    assert all("page_token" in request.parameters for request in seen[1:])
    assert all(request.headers["APCA-API-KEY-ID"] == KEY_ID for request in seen)
    assert fake.latest_requests() == []


@pytest.mark.usefixtures("keys_in_environment")
def test_bars_repeated_by_overlapping_pages_come_back_once(
    fake: FakeAlpaca, source: AlpacaSource
) -> None:
    bars = bar_series("2024-01-02T00:00Z", 20, "15min")
    fake.add_bars("MSFT", "15Min", bars)
    fake.page_size, fake.overlap = 6, 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRepairWarning)
        frame = source.fetch("MSFT", "15m", window("2024-01-02", "2024-01-03"))
    pd.testing.assert_frame_equal(frame, expected_frame(bars))
    assert len(fake.bars_requests()) > 3


@pytest.mark.usefixtures("keys_in_environment")
def test_a_rate_limit_is_retried_after_the_wait_alpaca_asks_for(
    fake: FakeAlpaca, source: AlpacaSource, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alpaca.common.rest

    def no_sleep(seconds: float) -> None:
        raise AssertionError("alpaca-py slept on its own; its retries should be off")

    monkeypatch.setattr(alpaca.common.rest.time, "sleep", no_sleep)
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-02T14:00Z", 3, "1h"))
    fake.fail(
        Failure(429, {"message": "too many requests."}, {"Retry-After": "3"}),
        Failure(
            429, {"message": "too many requests."}, {"X-RateLimit-Reset": f"{time.time() + 5}"}
        ),
    )
    frame = source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))
    assert len(frame) == 3
    assert len(fake.bars_requests()) == 3
    assert recorder.waits[0] == 3.0
    assert 3.0 < recorder.waits[1] <= 5.0


@pytest.mark.usefixtures("keys_in_environment")
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_retried_with_jittered_backoff(
    fake: FakeAlpaca, source: AlpacaSource, recorder: Recorder, status: int
) -> None:
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-02T14:00Z", 3, "1h"))
    fake.fail(Failure(status, {"message": "internal server error"}))
    frame = source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))
    assert len(frame) == 3
    assert len(fake.bars_requests()) == 2
    assert recorder.waits == [0.5]


@pytest.mark.usefixtures("keys_in_environment")
def test_retries_are_bounded_and_the_error_stays_retryable(
    fake: FakeAlpaca, source: AlpacaSource, recorder: Recorder
) -> None:
    fake.fail(*[Failure(429, {"message": "too many requests."})] * 5)
    with pytest.raises(RateLimitError, match=r"gave up after 3 attempts.*HTTP 429"):
        source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))
    assert len(fake.bars_requests()) == POLICY.attempts
    assert recorder.waits == [0.5, 1.0]


@pytest.mark.usefixtures("keys_in_environment")
def test_network_failures_are_retryable(
    fake: FakeAlpaca, source: AlpacaSource, recorder: Recorder
) -> None:
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-02T14:00Z", 2, "1h"))
    fake.fail(
        Failure(error=requests.ConnectionError("connection reset by peer")),
        Failure(error=requests.ReadTimeout("read timed out")),
    )
    assert len(source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))) == 2
    assert len(recorder.waits) == 2
    fake.fail(*[Failure(error=requests.ConnectionError("unreachable"))] * 3)
    with pytest.raises(RetryableSourceError, match="network failure"):
        source.fetch("AAPL", "1h", window("2024-01-04", "2024-01-05"))


@pytest.mark.parametrize(("key_id", "secret"), [(KEY_ID, "wrong-secret"), ("PKWRONG", SECRET)])
def test_bad_credentials_are_fatal_and_name_both_ways_to_fix_them(
    fake: FakeAlpaca,
    source: AlpacaSource,
    monkeypatch: pytest.MonkeyPatch,
    key_id: str,
    secret: str,
) -> None:
    monkeypatch.setenv(KEY_VARIABLES[0], key_id)
    monkeypatch.setenv(KEY_VARIABLES[1], secret)
    with pytest.raises(FatalSourceError) as caught:
        source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))
    message = str(caught.value)
    assert "HTTP 403" in message
    assert "'quantdesk keys add alpaca' (it asks" in message
    assert "APCA_API_KEY_ID" in message
    assert "APCA_API_SECRET_KEY" in message
    assert secret not in message
    assert key_id not in message
    assert "\n" not in message
    assert len(fake.bars_requests()) == 1
    chained = caught.value.__cause__ or caught.value.__context__
    assert chained is None, "alpaca-py's error, holding the key headers, must not be chained"


@pytest.mark.usefixtures("keys_in_environment")
def test_an_unauthorized_answer_is_fatal(fake: FakeAlpaca, source: AlpacaSource) -> None:
    fake.fail(Failure(401, {"message": "unauthorized."}))
    with pytest.raises(FatalSourceError, match=r"HTTP 401: unauthorized\..*quantdesk keys add"):
        source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))


@pytest.mark.usefixtures("keys_in_environment")
def test_a_plan_without_recent_sip_data_says_so(fake: FakeAlpaca, settings_in: Settings) -> None:
    source = AlpacaSource(settings_in, feed="sip", retry_policy=POLICY)
    fake.fail(Failure(403, {"message": "subscription does not permit querying recent SIP data"}))
    with pytest.raises(FatalSourceError, match=r"plan does not cover this.*ALPACA_DATA_FEED=iex"):
        source.fetch("AAPL", "1m", window("2024-01-02", "2024-01-03"))


def test_missing_credentials_name_the_vault_and_the_environment(
    fake: FakeAlpaca, source: AlpacaSource
) -> None:
    with pytest.raises(FatalSourceError) as caught:
        source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))
    message = str(caught.value)
    assert "need an API key" in message
    assert "'quantdesk keys add alpaca' (it asks" in message
    assert "APCA_API_KEY_ID and APCA_API_SECRET_KEY" in message
    assert fake.seen == []


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (
            DatabaseUnavailableError("cannot connect to the database"),
            RetryableSourceError,
            "the key vault is unavailable (cannot connect to the database); retry, "
            "or set APCA_API_KEY_ID and APCA_API_SECRET_KEY",
        ),
        (
            StoreError("the vault returned no row; run 'quantdesk db migrate' and retry"),
            FatalSourceError,
            "could not read the alpaca key from the key vault (the vault returned no row; "
            "run 'quantdesk db migrate' and retry); fix that, or set APCA_API_KEY_ID and "
            "APCA_API_SECRET_KEY to use a key without the vault",
        ),
    ],
)
def test_a_failing_key_vault_is_a_source_error_naming_the_fix(
    fake: FakeAlpaca,
    source: AlpacaSource,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    kind: type[Exception],
    message: str,
) -> None:
    def failing_store(provider: str, label: str, settings: Settings) -> None:
        raise error

    monkeypatch.setattr(credentials, "credential_stores", lambda: [failing_store])
    with pytest.raises(kind) as caught:
        source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))
    assert type(caught.value) is kind
    assert str(caught.value) == message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert fake.seen == []


@pytest.mark.usefixtures("keys_in_environment")
def test_an_unknown_stock_is_fatal_not_silently_empty(
    fake: FakeAlpaca, source: AlpacaSource
) -> None:
    with pytest.raises(FatalSourceError, match="no bars at all for stock 'NOPE' on the iex feed"):
        source.fetch("NOPE", "1h", window("2024-01-02", "2024-01-03"))
    assert [request.path for request in fake.seen] == ["/v2/stocks/bars", "/v2/stocks/bars/latest"]
    assert fake.latest_requests()[0].parameters == {"symbols": "NOPE", "feed": "iex"}


def test_an_unknown_crypto_pair_is_fatal(fake: FakeAlpaca, source: AlpacaSource) -> None:
    with pytest.raises(FatalSourceError, match="no crypto pair 'DOES/NOTEXIST'"):
        source.fetch("DOES/NOTEXIST", "1h", window("2024-01-02", "2024-01-03"))
    assert [request.path for request in fake.seen] == [
        "/v1beta3/crypto/us/bars",
        "/v1beta3/crypto/us/latest/bars",
    ]


@pytest.mark.usefixtures("keys_in_environment")
def test_a_symbol_alpaca_rejects_is_fatal_without_retries(
    fake: FakeAlpaca, source: AlpacaSource, recorder: Recorder
) -> None:
    fake.fail(Failure(400, {"code": 40010001, "message": "invalid symbol: AAPL.XX.YY"}))
    with pytest.raises(FatalSourceError, match=r"HTTP 400: invalid symbol: AAPL\.XX\.YY"):
        source.fetch("AAPL.XX.YY", "1h", window("2024-01-02", "2024-01-03"))
    assert recorder.waits == []


@pytest.mark.parametrize("symbol", ["TAOP:NASDAQ", "AAPL,MSFT", "BTC/USD/EUR", "", "A B"])
def test_malformed_symbols_are_refused_before_any_request(
    fake: FakeAlpaca, source: AlpacaSource, symbol: str
) -> None:
    with pytest.raises(FatalSourceError, match="not an Alpaca symbol"):
        source.fetch(symbol, "1h", window("2024-01-02", "2024-01-03"))
    assert fake.seen == []


@pytest.mark.parametrize("timeframe", ["7m", "45m", "5h", "2d", "90m"])
def test_unsupported_timeframes_are_refused_with_the_supported_ones_listed(
    fake: FakeAlpaca, source: AlpacaSource, timeframe: str
) -> None:
    with pytest.raises(
        FatalSourceError, match=r"cannot serve .* choose one of: 1m, 2m, .*, 1d, 1w"
    ):
        source.fetch("BTC/USD", timeframe, window("2024-01-02", "2024-01-03"))
    assert fake.seen == []


@pytest.mark.usefixtures("keys_in_environment")
def test_a_weekend_is_legitimately_empty_for_a_known_stock(
    fake: FakeAlpaca, source: AlpacaSource
) -> None:
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-05T14:00Z", 3, "1h"))
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-08T14:00Z", 3, "1h"))
    weekend = window("2024-01-06", "2024-01-08")
    frame = source.fetch("AAPL", "1h", weekend)
    assert frame.empty
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert len(fake.latest_requests()) == 1
    assert source.fetch("AAPL", "1h", weekend).empty
    assert len(fake.latest_requests()) == 1, "a symbol is checked once per source"


@pytest.mark.usefixtures("keys_in_environment")
def test_gaps_stay_gaps(fake: FakeAlpaca, source: AlpacaSource) -> None:
    bars = bar_series("2024-01-02T14:00Z", 8, "1h", skip=[2, 3, 6])
    fake.add_bars("AAPL", "1Hour", bars)
    frame = source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))
    assert len(frame) == 5
    assert list(frame.index.hour) == [14, 15, 18, 19, 21]
    pd.testing.assert_frame_equal(frame, expected_frame(bars))


def test_crypto_needs_no_key_and_volume_is_in_coins(fake: FakeAlpaca, source: AlpacaSource) -> None:
    bars = [bar("2024-01-02T00:00Z", 42_000.0, volume=0.125), bar("2024-01-02T00:05Z", 42_010.0)]
    fake.add_bars("BTC/USD", "5Min", bars)
    frame = source.fetch("btc/usd", "5m", window("2024-01-02", "2024-01-03"))
    pd.testing.assert_frame_equal(frame, expected_frame(bars))
    (request,) = fake.bars_requests()
    assert request.path == "/v1beta3/crypto/us/bars"
    assert request.parameters["symbols"] == "BTC/USD"
    assert "feed" not in request.parameters
    assert "adjustment" not in request.parameters
    assert "APCA-API-KEY-ID" not in request.headers


def test_daily_crypto_bars_are_built_from_hourly_ones_on_utc_days(
    fake: FakeAlpaca, source: AlpacaSource
) -> None:
    fake.add_bars("ETH/USD", "1Hour", bar_series("2024-01-01T00:00Z", 72, "1h"))
    frame = source.fetch("ETH/USD", "1d", window("2024-01-01T06:00Z", "2024-01-03"))
    assert list(frame.index) == [pd.Timestamp("2024-01-02", tz="UTC")]
    day = frame.iloc[0]
    assert (day.open, day.high, day.low, day.close) == (124.0, 148.0, 123.0, 147.5)
    assert day.volume == sum(10.0 + hour for hour in range(24, 48))
    (request,) = fake.bars_requests()
    assert request.parameters["timeframe"] == "1Hour"
    assert pd.Timestamp(request.parameters["start"]) == pd.Timestamp("2024-01-01", tz="UTC")


@pytest.mark.usefixtures("keys_in_environment")
def test_daily_stock_bars_are_stamped_at_midnight_utc_of_their_date(
    fake: FakeAlpaca, source: AlpacaSource
) -> None:
    # Alpaca stamps days at midnight New York time: 05:00 UTC in winter, 04:00 in summer.
    fake.add_bars("SPY", "1Day", [bar("2024-01-02T05:00Z", 470.0), bar("2024-01-03T05:00Z", 468.0)])
    fake.add_bars("SPY", "1Day", [bar("2024-07-01T04:00Z", 545.0)])
    frame = source.fetch("SPY", "1d", window("2024-01-01", "2024-07-02"))
    assert list(frame.index.strftime("%Y-%m-%d %H:%M")) == [
        "2024-01-02 00:00",
        "2024-01-03 00:00",
        "2024-07-01 00:00",
    ]
    assert source.fetch("SPY", "1d", window("2024-01-02T12:00Z", "2024-01-03T01:00Z")).index.equals(
        pd.DatetimeIndex([pd.Timestamp("2024-01-03", tz="UTC")], name="time")
    )


@pytest.mark.usefixtures("keys_in_environment")
@pytest.mark.parametrize(
    ("timeframe", "length", "sessions", "requested", "labels", "query_start"),
    [
        (
            *("1w", pd.DateOffset(weeks=1), ("2024-01-08", "2024-01-19")),
            *(("2024-01-10", "2024-01-20"), ["2024-01-15"], "2024-01-08"),
        ),
        (
            *("1M", pd.DateOffset(months=1), ("2024-01-02", "2024-03-29")),
            *(("2024-01-15", "2024-03-05"), ["2024-02-01", "2024-03-01"], "2024-01-01"),
        ),
    ],
)
def test_weekly_and_monthly_stock_bars_are_built_from_daily_ones(
    fake: FakeAlpaca,
    source: AlpacaSource,
    timeframe: str,
    length: pd.DateOffset,
    sessions: tuple[str, str],
    requested: tuple[str, str],
    labels: list[str],
    query_start: str,
) -> None:
    days = pd.bdate_range(*sessions, tz="UTC")
    fake.add_bars(
        "SPY", "1Day", [bar(day + pd.Timedelta(hours=5), 400.0 + n) for n, day in enumerate(days)]
    )
    frame = source.fetch("SPY", timeframe, window(*requested))
    starts = [pd.Timestamp(label, tz="UTC") for label in labels]
    assert list(frame.index) == starts
    for start, row in zip(starts, frame.itertuples(), strict=True):
        inside = [n for n, day in enumerate(days) if start <= day < start + length]
        assert (row.open, row.high, row.low, row.close, row.volume) == (
            *(400.0 + inside[0], 401.0 + inside[-1], 399.0 + inside[0], 400.5 + inside[-1]),
            100.0 * len(inside),
        )
    (request,) = fake.bars_requests()
    assert request.parameters["timeframe"] == "1Day"
    assert pd.Timestamp(request.parameters["start"]) == pd.Timestamp(query_start, tz="UTC")


def test_monthly_crypto_bars_are_built_from_hourly_ones(
    fake: FakeAlpaca, source: AlpacaSource
) -> None:
    fake.add_bars("ETH/USD", "1Hour", bar_series("2024-01-01T00:00Z", 24 * 60, "1h"))
    frame = source.fetch("ETH/USD", "1M", window("2024-01-01", "2024-03-01"))
    assert list(frame.index) == [
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-02-01", tz="UTC"),
    ]
    january_hours = 31 * 24
    assert frame["close"].iloc[0] == 100.0 + january_hours - 1 + 0.5
    assert frame["open"].iloc[1] == 100.0 + january_hours
    assert {request.parameters["timeframe"] for request in fake.bars_requests()} == {"1Hour"}


@pytest.mark.usefixtures("keys_in_environment")
def test_the_feed_comes_from_the_environment_and_names_the_cache_entry(
    fake: FakeAlpaca, settings_in: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FEED_VARIABLE, "sip")
    source = AlpacaSource(settings_in, adjustment="raw")
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-02T14:00Z", 2, "1h"))
    source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))
    parameters = fake.bars_requests()[0].parameters
    assert (parameters["feed"], parameters["adjustment"]) == ("sip", "raw")
    assert source.cache_symbol("aapl") == "AAPL;feed=sip;adjustment=raw"
    assert source.cache_symbol("BTC/USD") == "BTC/USD"
    assert AlpacaSource(settings_in, feed="iex").cache_symbol("AAPL") == "AAPL"
    monkeypatch.setenv(FEED_VARIABLE, "nasdaq")
    with pytest.raises(
        FatalSourceError, match=r"unknown Alpaca feed 'nasdaq' \(from ALPACA_DATA_FEED\)"
    ):
        AlpacaSource(settings_in)


def test_the_source_is_registered_under_its_name(settings_in: Settings) -> None:
    assert isinstance(get_source("alpaca", settings_in), AlpacaSource)


class RecordingAlpacaSource(AlpacaSource):
    """The real source with a recording clock, as ``load_bars`` builds it by name."""

    retry_clock: ClassVar[RetryClock | None] = RetryClock(sleep=lambda seconds: None)


@pytest.mark.usefixtures("keys_in_environment")
def test_a_widened_range_fetches_only_the_new_part(
    fake: FakeAlpaca, settings_in: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(source_module._registered_sources, "alpaca", RecordingAlpacaSource)
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-02T00:00Z", 24 * 6, "1h"))
    first = load_bars(
        "alpaca:AAPL", timeframe="1h", start="2024-01-02", end="2024-01-04", settings=settings_in
    )
    assert first.rows == 48
    assert not first.cache_hit
    assert len(fake.bars_requests()) == 1
    again = load_bars(
        "alpaca:AAPL", timeframe="1h", start="2024-01-02", end="2024-01-04", settings=settings_in
    )
    assert again.cache_hit
    assert len(fake.bars_requests()) == 1
    widened = load_bars(
        "alpaca:AAPL", timeframe="1h", start="2024-01-02", end="2024-01-06", settings=settings_in
    )
    assert widened.rows == 96
    seen = fake.bars_requests()
    assert len(seen) == 2
    # Adjusted prices may be restated: the fetch reaches back to the last cached bar to compare it.
    assert pd.Timestamp(seen[1].parameters["start"]) == pd.Timestamp("2024-01-03T23:00Z")
    assert widened.fetched_ranges == (window("2024-01-04", "2024-01-06"),)
    assert widened.frame.index.is_unique


def test_keys_come_from_the_vault_and_never_reach_a_log(
    fake: FakeAlpaca,
    database_user: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    recorder: Recorder,
) -> None:
    from quantdesk.store.vault import add_api_key

    caplog.set_level(logging.DEBUG)
    # SQLAlchemy sets its own loggers to WARNING on import; open them up too.
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    user = database_user("alpaca_reader")
    add_api_key("alpaca", KEY_ID, SECRET, settings=user.settings)
    source = AlpacaSource(user.settings, retry_policy=POLICY, retry_clock=recorder.clock)
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-02T14:00Z", 3, "1h"))
    fake.fail(Failure(503, {"message": "service unavailable"}))
    assert len(source.fetch("AAPL", "1h", window("2024-01-02", "2024-01-03"))) == 3
    sent = fake.bars_requests()[-1].headers
    assert (sent["APCA-API-KEY-ID"], sent["APCA-API-SECRET-KEY"]) == (KEY_ID, SECRET)
    assert caplog.records, "the retry is logged"
    for record in caplog.records:
        text = record.getMessage()
        assert KEY_ID not in text, record.name
        assert SECRET not in text, record.name


def require_alpaca_reachable() -> None:
    """Skip the calling online test when Alpaca's data host cannot be reached."""
    try:
        socket.create_connection(("data.alpaca.markets", 443), timeout=5).close()
    except OSError as error:
        pytest.skip(f"data.alpaca.markets is unreachable ({error})")


@pytest.mark.online
def test_online_real_crypto_bars() -> None:
    require_alpaca_reachable()
    settings = Settings.load()
    end = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=1)
    frame = AlpacaSource(settings).fetch(
        "BTC/USD", "1h", TimeRange(end - pd.Timedelta(days=2), end)
    )
    assert len(frame) > 24
    assert frame.index.is_unique
    assert (frame.index.minute == 0).all()


@pytest.mark.online
def test_online_real_stock_bars_with_keys() -> None:
    from quantdesk.data.credentials import find_api_key

    settings = Settings.load()
    try:
        key = find_api_key("alpaca", settings, environment=KEY_VARIABLES)
    except QuantdeskError as error:
        pytest.skip(f"no Alpaca key available ({type(error).__name__})")
    if key is None:
        pytest.skip("no Alpaca key: set APCA_API_KEY_ID and APCA_API_SECRET_KEY")
    require_alpaca_reachable()
    source = AlpacaSource(settings)
    frame = source.fetch("AAPL", "1d", window("2024-01-01", "2024-02-01"))
    assert 15 <= len(frame) <= 22
    assert (frame.index.hour == 0).all()
    with pytest.raises(FatalSourceError, match="no bars at all"):
        source.fetch("QQQQZZZZ", "1d", window("2024-01-01", "2024-02-01"))


@pytest.mark.usefixtures("keys_in_environment")
def test_the_cli_fetches_stock_bars_through_the_cache(
    fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_bars("AAPL", "1Hour", bar_series("2024-01-02T09:00Z", 30, "1h"))
    words = ["data", "fetch", "alpaca:AAPL", "-t", "1h", "--start", "2024-01-02"]
    words += ["--end", "2024-01-04", "--json"]
    assert main(words) == 0
    fetched = json.loads(capsys.readouterr().out)
    assert (fetched["source"], fetched["rows"], fetched["cache_hit"]) == ("alpaca", 30, False)
    assert main(words) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"] is True
    assert len(fake.bars_requests()) == 1


def test_the_cli_says_how_to_give_a_missing_key_on_one_line(
    fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    words = ["data", "fetch", "alpaca:AAPL", "--start", "2024-01-02", "--end", "2024-01-03"]
    assert main(words) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "quantdesk keys add alpaca" in error
    assert fake.bars_requests() == []


def test_the_declared_alpaca_requirement_pins_the_private_attributes_used() -> None:
    """``_configure`` sets ``_retry``, ``_retry_codes`` and ``_session``, as in alpaca-py 0.44."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from packaging.requirements import Requirement

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    declared = [Requirement(line) for line in project["project"]["dependencies"]]
    specifier = next(item.specifier for item in declared if item.name == "alpaca-py")
    assert not specifier.contains("0.30.0")
    assert not specifier.contains("0.45.0")
    assert specifier.contains(version("alpaca-py"))
