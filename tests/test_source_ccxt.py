"""The ccxt source against Binance's wire format: ccxt's own client runs, only HTTP is faked."""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterator

import ccxt
import pandas as pd
import pytest
import responses

import quantdesk
from quantdesk.cli import main
from quantdesk.config import Settings
from quantdesk.core.frame import is_canonical
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data import credentials
from quantdesk.data.cache import CacheKey, ParquetStore
from quantdesk.data.credentials import ApiKey
from quantdesk.data.loader import LoadResult, load_bars
from quantdesk.data.retry import RetryClock, RetryPolicy
from quantdesk.data.source import get_source
from quantdesk.data.sources.ccxt_source import CcxtSource
from quantdesk.errors import (
    DatabaseUnavailableError,
    DataRepairWarning,
    FatalSourceError,
    InvalidInputError,
    RateLimitError,
    RetryableSourceError,
    StoreError,
)
from tests.fake_binance import FakeBinance, milliseconds

ADDRESS = "ccxt:binance:BTC/USDT"
HOUR = 3_600_000


@pytest.fixture
def binance(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinance]:
    """Binance's spot API behind ``responses``; any other URL fails the request."""
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeBinance(mock)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits the source asked for; nothing really sleeps."""
    recorded: list[float] = []
    monkeypatch.setattr(CcxtSource, "retry_clock", RetryClock(sleep=recorded.append))
    return recorded


def load(
    settings: Settings, start: str, end: str, address: str = ADDRESS, timeframe: str = "1h"
) -> LoadResult:
    return load_bars(address, timeframe=timeframe, start=start, end=end, settings=settings)


def cache_key(timeframe: str = "1h") -> CacheKey:
    return CacheKey("ccxt", "binance:BTC/USDT", Timeframe.parse(timeframe))


class RecordingStore:
    """A credential store (the vault's plug-in point) that records what it is asked."""

    def __init__(self, key: ApiKey | None = None, error: Exception | None = None) -> None:
        self.key = key
        self.error = error
        self.asked: list[tuple[str, str]] = []

    def __call__(self, provider: str, label: str, settings: Settings) -> ApiKey | None:
        self.asked.append((provider, label))
        if self.error is not None:
            raise self.error
        return self.key


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> RecordingStore:
    """The only credential store installed; it holds no key."""
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    recording = RecordingStore()
    monkeypatch.setattr(credentials, "credential_stores", lambda: [recording])
    return recording


def refused_without_a_key(exchange: object) -> str:
    """What an exchange whose candles need a key does: refuse unless ccxt has one."""
    if not getattr(exchange, "apiKey", ""):
        raise ccxt.AuthenticationError(
            "binance GET https://api.binance.com/api/v3/klines?symbol=BTCUSDT"
            '&signature=0a1b2c3d4e5f requires "apiKey" credential'
        )
    return "candles"


def test_the_source_is_installed_under_its_name(settings_in: Settings) -> None:
    assert isinstance(get_source("ccxt", settings_in), CcxtSource)


def test_a_range_longer_than_one_page_is_paged_with_since_and_limit(
    binance: FakeBinance, waits: list[float], settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2023-12-01", "2024-05-01")
    result = load(settings_in, "2024-01-01", "2024-03-31")
    expected = binance.expected("BTCUSDT", "1h", "2024-01-01", "2024-03-31")
    assert result.rows == 90 * 24
    assert is_canonical(result.frame)
    pd.testing.assert_frame_equal(result.frame, expected)
    pages = binance.klines_requests
    assert [page["limit"] for page in pages] == ["1000", "1000", "160"]
    starts = [int(page["startTime"]) for page in pages]
    first = milliseconds("2024-01-01")
    assert starts == [first, first + 1000 * HOUR, first + 2000 * HOUR]
    assert all(page["symbol"] == "BTCUSDT" and page["interval"] == "1h" for page in pages)
    assert binance.exchange_info_requests == 1
    assert waits == []


def test_a_second_load_is_a_cache_hit_that_sends_no_request(
    binance: FakeBinance, settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    first = load(settings_in, "2024-01-02", "2024-01-20")
    served = len(binance.requests)
    second = load(settings_in, "2024-01-02", "2024-01-20")
    assert not first.cache_hit
    assert second.cache_hit
    assert len(binance.requests) == served
    pd.testing.assert_frame_equal(first.frame, second.frame)
    frame = quantdesk.load(
        ADDRESS, timeframe="1h", start="2024-01-05", end="2024-01-06", settings=settings_in
    )
    pd.testing.assert_frame_equal(frame, first.frame.loc["2024-01-05"])
    assert len(binance.requests) == served


def test_a_widened_range_fetches_only_the_new_parts(
    binance: FakeBinance, settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2023-12-01", "2024-03-01")
    load(settings_in, "2024-01-10", "2024-01-20")
    assert len(binance.klines_requests) == 1
    widened = load(settings_in, "2024-01-05", "2024-02-01")
    assert widened.fetched_ranges == (
        TimeRange.of("2024-01-05", "2024-01-10"),
        TimeRange.of("2024-01-20", "2024-02-01"),
    )
    new_pages = binance.klines_requests[1:]
    assert [(int(page["startTime"]), page["limit"]) for page in new_pages] == [
        (milliseconds("2024-01-05"), str(5 * 24)),
        (milliseconds("2024-01-20"), str(12 * 24)),
    ]
    pd.testing.assert_frame_equal(
        widened.frame, binance.expected("BTCUSDT", "1h", "2024-01-05", "2024-02-01")
    )


def test_a_429_is_retried_after_the_wait_binance_asks_for(
    binance: FakeBinance, waits: list[float], settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    binance.throttle(1, retry_after=7)
    result = load(settings_in, "2024-01-01", "2024-01-03")
    assert result.rows == 48
    assert len(binance.klines_requests) == 2
    assert waits == [7.0]


def test_a_rate_limit_that_persists_gives_up_as_retryable_and_caches_nothing(
    binance: FakeBinance,
    waits: list[float],
    settings_in: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(CcxtSource, "retry_policy", RetryPolicy(attempts=3))
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    binance.throttle(10, retry_after=2)
    with pytest.raises(RateLimitError, match=r"gave up after 3 attempts .*binance asks to slow"):
        load(settings_in, "2024-01-01", "2024-01-03")
    assert len(binance.klines_requests) == 3
    assert waits == [2.0, 2.0]
    store = ParquetStore.from_settings(settings_in)
    assert store.coverage(cache_key()) == []


@pytest.mark.parametrize("status", [None, 502, 503, 504])
def test_network_failures_and_server_errors_are_retried(
    binance: FakeBinance, waits: list[float], settings_in: Settings, status: int | None
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    binance.fail(2, status=status)
    result = load(settings_in, "2024-01-01", "2024-01-02")
    assert result.rows == 24
    assert len(binance.klines_requests) == 3
    assert len(waits) == 2


def test_a_network_failure_that_persists_is_retryable(
    binance: FakeBinance, waits: list[float], settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    binance.fail(99)
    with pytest.raises(RetryableSourceError, match="binance could not be reached") as caught:
        load(settings_in, "2024-01-01", "2024-01-02")
    assert not isinstance(caught.value, FatalSourceError)
    assert len(binance.klines_requests) == 5
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("address", "suggestion"),
    [
        ("ccxt:binance:BTC/USDX", "did you mean 'BTC/USDT'"),
        ("ccxt:binance:btc/usdt", "did you mean 'BTC/USDT'"),
        ("ccxt:binance:BTCUSDT", "did you mean 'BTC/USDT'"),
        ("ccxt:binance:QQQQQQQQ/ZZZ", "exchange_symbols('binance') lists them"),
    ],
)
def test_an_unknown_symbol_is_fatal_before_any_candle_request(
    binance: FakeBinance, settings_in: Settings, address: str, suggestion: str
) -> None:
    with pytest.raises(
        FatalSourceError, match="unknown binance symbol .*" + re.escape(suggestion)
    ) as caught:
        load(settings_in, "2024-01-01", "2024-01-02", address=address)
    assert "\n" not in str(caught.value)
    assert binance.klines_requests == []


def test_a_symbol_the_exchange_rejects_is_fatal_and_not_retried(
    binance: FakeBinance, waits: list[float], settings_in: Settings
) -> None:
    binance.delist("ETHBTC")
    with pytest.raises(FatalSourceError, match=r"binance does not serve this symbol .*-1121"):
        load(settings_in, "2024-01-01", "2024-01-02", address="ccxt:binance:ETH/BTC")
    assert len(binance.klines_requests) == 1
    assert waits == []


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("ccxt:binanse:BTC/USDT", r"unknown ccxt exchange 'binanse'; did you mean 'binance'"),
        ("ccxt:nowhere:BTC/USDT", r"unknown ccxt exchange 'nowhere'; .*ccxt\.exchanges"),
        ("ccxt:BTC/USDT", r"write ccxt:EXCHANGE:SYMBOL, e\.g\. 'ccxt:binance:BTC/USDT'"),
    ],
)
def test_an_unknown_exchange_is_fatal_without_a_request(
    binance: FakeBinance, settings_in: Settings, address: str, message: str
) -> None:
    with pytest.raises(FatalSourceError, match=message):
        load(settings_in, "2024-01-01", "2024-01-02", address=address)
    assert binance.requests == []


def test_an_unsupported_timeframe_is_fatal_and_lists_the_offered_ones(
    binance: FakeBinance, settings_in: Settings
) -> None:
    with pytest.raises(FatalSourceError, match=r"binance has no 7m candles; ask for one of 1m, 3m"):
        load(settings_in, "2024-01-01", "2024-01-02", timeframe="7m")
    assert binance.requests == []


def test_an_empty_range_is_an_empty_frame_that_the_cache_remembers(
    binance: FakeBinance, settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    result = load(settings_in, "2016-01-01", "2016-02-01")
    assert result.rows == 0
    assert is_canonical(result.frame)
    assert len(binance.klines_requests) == 1
    store = ParquetStore.from_settings(settings_in)
    assert store.coverage(cache_key()) == [TimeRange.of("2016-01-01", "2016-02-01")]
    again = load(settings_in, "2016-01-01", "2016-02-01")
    assert again.cache_hit
    assert len(binance.klines_requests) == 1


def test_a_range_reaching_into_the_listing_keeps_only_what_lies_inside_it(
    binance: FakeBinance, settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-15", "2024-03-01")
    result = load(settings_in, "2024-01-01", "2024-02-01")
    pd.testing.assert_frame_equal(
        result.frame, binance.expected("BTCUSDT", "1h", "2024-01-15", "2024-02-01")
    )
    assert len(binance.klines_requests) == 1


def test_missing_candles_stay_missing_across_pages(
    binance: FakeBinance, settings_in: Settings
) -> None:
    outages = [("2024-01-02 03:00", "2024-01-02 07:00"), ("2024-02-11 12:00", "2024-02-13 00:00")]
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-04-01", missing=outages)
    result = load(settings_in, "2024-01-01", "2024-03-15")
    hours = (74 * 24) - 4 - 36
    assert result.rows == hours
    pd.testing.assert_frame_equal(
        result.frame, binance.expected("BTCUSDT", "1h", "2024-01-01", "2024-03-15")
    )
    assert pd.Timestamp("2024-01-02 05:00", tz="UTC") not in result.frame.index
    assert not result.frame.isna().to_numpy().any()


def test_candles_repeated_by_overlapping_pages_are_kept_once(
    binance: FakeBinance, settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2023-12-01", "2024-05-01")
    binance.repeat_previous = 5
    binance.send_last_twice = True
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRepairWarning)
        result = load(settings_in, "2024-01-01", "2024-03-31")
    pd.testing.assert_frame_equal(
        result.frame, binance.expected("BTCUSDT", "1h", "2024-01-01", "2024-03-31")
    )
    assert result.frame.index.is_unique
    # ccxt drops what lies before ``since``, so the pages shrink and the fourth is
    # all repeats; a full page then shows the range does go on.
    limits = [int(page["limit"]) for page in binance.klines_requests]
    assert limits == [1000, 1000, 170, 5, 1000]


def test_the_still_forming_candle_is_returned_but_never_cached(
    binance: FakeBinance, settings_in: Settings
) -> None:
    now = pd.Timestamp.now(tz="UTC")
    today = now.floor("D")
    binance.add_candles("BTCUSDT", "1d", today - pd.Timedelta(days=30), now)
    start, end = today - pd.Timedelta(days=10), today + pd.Timedelta(days=1)
    result = load(settings_in, str(start), str(end), timeframe="1d")
    assert result.rows == 11
    assert result.frame.index[-1] == today
    store = ParquetStore.from_settings(settings_in)
    assert store.coverage(cache_key("1d")) == [TimeRange(start, today)]
    assert store.load(cache_key("1d"), TimeRange(start, end)).index[-1] == today - pd.Timedelta(
        days=1
    )
    before = len(binance.klines_requests)
    again = load(settings_in, str(start), str(end), timeframe="1d")
    assert again.fetched_ranges == (TimeRange(today, end),)
    assert [int(page["startTime"]) for page in binance.klines_requests[before:]] == [
        milliseconds(today)
    ]


@pytest.mark.parametrize(
    ("timeframe", "first_label", "last_label", "frequency"),
    [("1w", "2024-01-01", "2024-03-25", "W-MON"), ("1M", "2022-02-01", "2024-02-01", "MS")],
)
def test_weekly_and_monthly_candles_open_where_quantdesk_bars_do(
    binance: FakeBinance,
    settings_in: Settings,
    caplog: pytest.LogCaptureFixture,
    timeframe: str,
    first_label: str,
    last_label: str,
    frequency: str,
) -> None:
    binance.add_candles("BTCUSDT", timeframe, "2021-01-01", "2024-06-01")
    end = "2024-04-01" if timeframe == "1w" else "2024-03-01"
    with caplog.at_level(logging.WARNING):
        result = load(settings_in, first_label, end, timeframe=timeframe)
    labels = pd.date_range(first_label, last_label, freq=frequency, tz="UTC")
    assert list(result.frame.index) == list(labels)
    pd.testing.assert_frame_equal(
        result.frame, binance.expected("BTCUSDT", timeframe, first_label, end)
    )
    assert {request["interval"] for request in binance.klines_requests} == {timeframe}
    assert "boundaries" not in caplog.text
    assert load(settings_in, first_label, end, timeframe=timeframe).cache_hit


def test_settled_candles_off_the_bar_boundaries_are_kept_with_a_warning(
    binance: FakeBinance, settings_in: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2018-02-08", "2018-02-09")
    binance.add_candles("BTCUSDT", "1h", "2018-02-09 09:28:15", "2018-02-11", aligned=False)
    with caplog.at_level(logging.WARNING):
        result = load(settings_in, "2018-02-08", "2018-02-11")
    pd.testing.assert_frame_equal(
        result.frame, binance.expected("BTCUSDT", "1h", "2018-02-08", "2018-02-11")
    )
    assert result.frame.index[24] == pd.Timestamp("2018-02-09 09:28:15", tz="UTC")
    assert "open off quantdesk's 1h boundaries, e.g. at 2018-02-09 09:28:15" in caplog.text


def test_a_forming_candle_off_the_bar_boundaries_is_left_out(
    binance: FakeBinance, settings_in: Settings
) -> None:
    now = pd.Timestamp.now(tz="UTC")
    today = now.floor("D")
    binance.add_candles("BTCUSDT", "1d", today - pd.Timedelta("5D 16h"), now, aligned=False)
    # Candles open at 08:00: the latest is still forming (and so is yesterday's before 08:00).
    start, end = today - pd.Timedelta(days=7), today + pd.Timedelta(days=1)
    result = load(settings_in, str(start), str(end), timeframe="1d")
    first_open = today - pd.Timedelta("5D 16h")
    closed = pd.date_range(first_open, now - pd.Timedelta(days=1), freq="D")
    assert list(result.frame.index) == list(closed)
    assert (result.frame.index + pd.Timedelta(days=1) <= pd.Timestamp.now(tz="UTC")).all()
    stored = ParquetStore.from_settings(settings_in).load(cache_key("1d"), TimeRange(start, end))
    assert (stored.index + pd.Timedelta(days=1) <= pd.Timestamp.now(tz="UTC")).all()


def test_each_exchange_has_its_own_cache_series(
    binance: FakeBinance, settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    result = load(settings_in, "2024-01-01", "2024-01-02", address="ccxt:Binance:BTC/USDT")
    assert result.cache_path == ParquetStore.from_settings(settings_in).path(cache_key())
    assert CcxtSource(settings_in).cache_symbol("KRAKEN:BTC/USDT") == "kraken:BTC/USDT"


def test_the_exchange_markets_can_be_listed(binance: FakeBinance, settings_in: Settings) -> None:
    symbols = CcxtSource(settings_in).exchange_symbols("binance")
    assert symbols == sorted(
        ["BTC/USDT", "ETH/USDT", "ETH/BTC", "BNB/USDT", "SOL/USDT", "LUNA/USDT"]
    )


def test_keys_from_the_environment_reach_ccxt_but_no_log_or_message(
    binance: FakeBinance,
    waits: list[float],
    settings_in: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key_id, secret = "k3yIdAbcdefghijklmnop1234", "s3cretZyxwvutsrqponmlkj9876"
    monkeypatch.setenv("BINANCE_API_KEY", key_id)
    monkeypatch.setenv("BINANCE_API_SECRET", secret)
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    binance.delist("ETHBTC")
    source = CcxtSource(settings_in)
    with caplog.at_level(logging.DEBUG):
        frame = source.fetch("binance:BTC/USDT", "1h", TimeRange.of("2024-01-01", "2024-01-02"))
        with pytest.raises(FatalSourceError) as caught:
            source.fetch("binance:ETH/BTC", "1h", TimeRange.of("2024-01-01", "2024-01-02"))
    assert len(frame) == 24
    exchange = source._exchanges[("binance", False)]
    assert (exchange.apiKey, exchange.secret) == (key_id, secret)
    for text in (caplog.text, str(caught.value)):
        assert key_id not in text
        assert secret not in text
    assert [path for path, _ in binance.requests] == ["exchangeInfo", "klines", "klines"]
    refused = source._translated(ccxt.AuthenticationError(f"binance key {key_id}"), exchange)
    assert str(refused) == (
        "binance refused the request (binance key <redacted>); "
        "check BINANCE_API_KEY and BINANCE_API_SECRET"
    )


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (
            ccxt.AuthenticationError,
            FatalSourceError,
            "store a key with 'quantdesk keys add binance'",
        ),
        (ccxt.PermissionDenied, FatalSourceError, "quantdesk keys add binance"),
        (ccxt.BadSymbol, FatalSourceError, "does not serve this symbol"),
        (ccxt.NotSupported, FatalSourceError, "refused the request"),
        (ccxt.RateLimitExceeded, RateLimitError, "asks to slow down"),
        (ccxt.DDoSProtection, RateLimitError, "asks to slow down"),
        (ccxt.RequestTimeout, RetryableSourceError, "could not be reached"),
        (ccxt.ExchangeNotAvailable, RetryableSourceError, "could not be reached"),
        (ccxt.BadResponse, RetryableSourceError, "unusable answer"),
    ],
)
def test_ccxt_errors_map_to_retryable_or_fatal(
    settings_in: Settings, error: type[Exception], kind: type[Exception], message: str
) -> None:
    source = CcxtSource(settings_in)
    exchange = source._exchange("binance", derivatives=False)
    translated = source._translated(error('binance {"code":-2015}\n detail'), exchange)
    assert type(translated) is kind
    assert message in str(translated)
    assert "\n" not in str(translated)


def test_errors_raised_leave_ccxts_error_and_its_signed_url_behind(
    binance: FakeBinance, waits: list[float], settings_in: Settings, store: RecordingStore
) -> None:
    binance.delist("ETHBTC")
    source = CcxtSource(settings_in)
    with pytest.raises(FatalSourceError, match="does not serve this symbol") as rejected:
        source.fetch("binance:ETH/BTC", "1h", TimeRange.of("2024-01-01", "2024-01-02"))
    exchange = source._exchange("binance", derivatives=False)
    with pytest.raises(FatalSourceError, match="refused the request") as refused:
        source._call(exchange, lambda: refused_without_a_key(exchange), "candles")
    for caught in (rejected, refused):
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None


def test_a_gap_longer_than_a_page_does_not_end_paging(
    binance: FakeBinance, settings_in: Settings
) -> None:
    binance.add_candles(
        "BTCUSDT", "1h", "2023-12-01", "2024-05-01", missing=[("2024-01-20", "2024-03-10")]
    )
    binance.answer_within_limit = True
    result = load(settings_in, "2024-01-01", "2024-03-31")
    pd.testing.assert_frame_equal(
        result.frame, binance.expected("BTCUSDT", "1h", "2024-01-01", "2024-03-31")
    )
    assert result.frame.index[-1] == pd.Timestamp("2024-03-30 23:00", tz="UTC")
    starts = [int(page["startTime"]) for page in binance.klines_requests]
    gap = milliseconds("2024-01-20")
    assert starts == [milliseconds("2024-01-01"), gap, gap + 1000 * HOUR]


def test_public_candles_never_ask_the_vault(
    binance: FakeBinance, settings_in: Settings, store: RecordingStore
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-02-01")
    assert load(settings_in, "2024-01-01", "2024-01-03").rows == 48
    assert CcxtSource(settings_in).exchange_symbols("binance")
    assert store.asked == []


def test_a_refusal_without_a_key_asks_the_vault_once_and_retries_with_its_key(
    settings_in: Settings, store: RecordingStore
) -> None:
    store.key = ApiKey("binance", "default", "storedKeyId0123456789abcd", "storedSecret0123456789")
    source = CcxtSource(settings_in)
    exchange = source._exchange("binance", derivatives=False)
    assert source._call(exchange, lambda: refused_without_a_key(exchange), "candles") == "candles"
    assert source._call(exchange, lambda: refused_without_a_key(exchange), "candles") == "candles"
    assert store.asked == [("binance", "default")]
    assert (exchange.apiKey, exchange.secret) == (store.key.key_id, store.key.secret)


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (
            DatabaseUnavailableError("cannot connect to the database"),
            RetryableSourceError,
            "the key vault is unavailable (cannot connect to the database); retry, "
            "or set BINANCE_API_KEY and BINANCE_API_SECRET",
        ),
        (
            StoreError("run 'quantdesk db migrate'"),
            FatalSourceError,
            "could not read the binance key from the key vault (run 'quantdesk db migrate'); "
            "fix that, or set BINANCE_API_KEY and BINANCE_API_SECRET",
        ),
    ],
)
def test_a_failing_vault_is_a_source_error_naming_the_fix(
    settings_in: Settings,
    store: RecordingStore,
    waits: list[float],
    error: Exception,
    kind: type[Exception],
    message: str,
) -> None:
    store.error = error
    source = CcxtSource(settings_in)
    exchange = source._exchange("binance", derivatives=False)
    with pytest.raises(kind, match=re.escape(message)) as caught:
        source._call(exchange, lambda: refused_without_a_key(exchange), "candles")
    assert type(caught.value) is kind
    assert store.asked


def test_the_cli_fetches_through_the_cache_and_lists_the_series(
    binance: FakeBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-03-01")
    words = ["data", "fetch", ADDRESS, "-t", "1h", "--start", "2024-01-01", "--end", "2024-02-15"]
    assert main([*words, "--json"]) == 0
    fetched = json.loads(capsys.readouterr().out)
    assert fetched["rows"] == 45 * 24
    assert fetched["source"] == "ccxt"
    assert fetched["symbol"] == "binance:BTC/USDT"
    assert not fetched["cache_hit"]
    assert main([*words, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit"]
    assert len(binance.klines_requests) == 2
    assert main(["data", "ls", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(entry["source"], entry["symbol"], entry["rows"]) for entry in listed] == [
        ("ccxt", "binance:BTC/USDT", 45 * 24)
    ]
    assert main(["data", "rm", ADDRESS, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed_timeframes"] == ["1h"]
    assert main(["data", "ls", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_cli_reports_an_unknown_symbol_on_one_line(
    binance: FakeBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    words = [
        "data",
        "fetch",
        "ccxt:binance:BTC/USDX",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
    ]
    assert main(words) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        "quantdesk: error: unknown binance symbol 'BTC/USDX'; "
        "did you mean 'BTC/USDT' or 'ETH/USDT' or 'BNB/USDT'?"
    )


@pytest.mark.online
def test_real_binance_serves_a_day_of_hourly_candles(settings_in: Settings) -> None:
    result = load(settings_in, "2024-03-01", "2024-03-02")
    assert result.rows == 24
    assert is_canonical(result.frame)
    assert result.frame.index[0] == pd.Timestamp("2024-03-01", tz="UTC")
    assert (result.frame["close"] > 1_000).all()
    assert load(settings_in, "2024-03-01", "2024-03-02").cache_hit


def test_a_load_without_an_end_runs_to_now_and_without_a_start_asks_for_one(
    binance: FakeBinance, settings_in: Settings
) -> None:
    now = pd.Timestamp.now(tz="UTC")
    start = now.floor("D") - pd.Timedelta(days=2)
    binance.add_candles("BTCUSDT", "1h", start, now.ceil("h"))
    result = load_bars(ADDRESS, timeframe="1h", start=start, settings=settings_in)
    assert result.frame.index[0] == start
    assert result.frame.index[-1] == now.floor("h")
    assert result.time_range.end == now.floor("h") + pd.Timedelta(hours=1)
    with pytest.raises(InvalidInputError, match=r"give a start, e\.g\. --start 2024-01-01"):
        load_bars(ADDRESS, timeframe="1h", settings=settings_in)


def test_loads_in_one_process_reuse_the_source_and_its_markets(
    binance: FakeBinance, settings_in: Settings
) -> None:
    binance.add_candles("BTCUSDT", "1h", "2024-01-01", "2024-03-01")
    for month in ("2024-01", "2024-02"):
        start = pd.Timestamp(f"{month}-01", tz="UTC")
        load_bars(
            ADDRESS,
            timeframe="1h",
            start=start,
            end=start + pd.Timedelta(days=10),
            settings=settings_in,
        )
    assert get_source("ccxt", settings_in) is get_source("ccxt", settings_in)
    assert binance.exchange_info_requests == 1
    assert len(binance.klines_requests) == 2
