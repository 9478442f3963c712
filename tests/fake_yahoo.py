"""Yahoo Finance, offline, in its real wire format, for the real yfinance client to talk to.

:class:`FakeYahoo` registers on a ``responses`` mock the endpoints yfinance 1.7
calls for price history:

- ``GET https://fc.yahoo.com``: the "basic" cookie strategy's cookie. Like the
  real host it answers 404 with a page and sets the ``A3`` cookie on ``.yahoo.com``.
- ``GET https://query1.finance.yahoo.com/v1/test/getcrumb`` (basic strategy) and
  its ``query2`` twin (the "csrf" strategy): the crumb as plain text, given the
  ``A3`` cookie.
- ``GET https://guce.yahoo.com/consent``: the csrf strategy's consent page,
  served as visitors outside the EU get it, without a consent form, so yfinance
  falls back to the basic strategy as it does there.
- ``GET https://query2.finance.yahoo.com/v8/finance/chart/{symbol}``: the chart
  API, with ``range=1d&interval=1d`` (yfinance's time-zone lookup) or
  ``period1``/``period2`` epoch seconds (a history request); unknown symbols
  get Yahoo's 404 body, ranges beyond what Yahoo keeps its 422 body.
- ``GET https://query2.finance.yahoo.com/v10/finance/quoteSummary/{symbol}``:
  only Yahoo's 404 for unknown symbols, which yfinance asks when the chart
  gave it no time zone.

Bars are made up but deterministic: a bar's values depend only on the symbol
and its start, so overlapping requests agree. Stocks trade 09:30 to 16:00 New
York time on weekdays (no holidays); crypto trades around the clock.
:func:`isolate_yfinance` gives each test a fresh yfinance: no cookie, crumb or
cookie strategy left by an earlier test and no time-zone or cookie cache
files under the user's cache directory.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import requests
import responses

QUERY1 = "https://query1.finance.yahoo.com"
QUERY2 = "https://query2.finance.yahoo.com"
CHART_URL = re.compile(r"^https://query2\.finance\.yahoo\.com/v8/finance/chart/([^?]+)")
QUOTE_SUMMARY_URL = re.compile(r"^https://query2\.finance\.yahoo\.com/v10/finance/quoteSummary/")
CRUMB = "Xq7Lm2Rv9Zb"
COOKIE = "d=AQABBFakeCookieForTestsOnly&S=AQAAAFakeSignature"
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
MINUTE_INTERVALS = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "1h": 60, "90m": 90}
# How far back Yahoo keeps intraday bars, and the longest 1m request it accepts.
KEPT_DAYS = {"1m": 30, "2m": 60, "5m": 60, "15m": 60, "30m": 60, "90m": 60, "60m": 730, "1h": 730}
ONE_MINUTE_REQUEST_DAYS = 7
ADJUSTMENT = 0.97  # Adj Close / Close on daily bars: a made-up dividend adjustment


@dataclass(frozen=True)
class Market:
    """One instrument the fake knows: where and when it trades, and its price level."""

    symbol: str
    timezone: str
    instrument_type: str
    exchange: str
    full_exchange: str
    base_price: float
    session: tuple[time, time] | None = (time(9, 30), time(16, 0))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


MARKETS = {
    market.symbol: market
    for market in (
        Market("AAPL", "America/New_York", "EQUITY", "NMS", "NasdaqGS", 190.0),
        Market("^GSPC", "America/New_York", "INDEX", "SNP", "SNP", 4_700.0),
        Market("BTC-USD", "UTC", "CRYPTOCURRENCY", "CCC", "CCC", 42_000.0, session=None),
    )
}


@dataclass(frozen=True)
class ChartRequest:
    """A history request as the fake received it."""

    symbol: str
    interval: str
    start: pd.Timestamp
    end: pd.Timestamp
    crumb: str | None
    cookie: str | None


@dataclass
class FakeYahoo:
    """The fake's state: scripted failures, gaps, and what it was asked."""

    mock: responses.RequestsMock
    history_requests: list[ChartRequest] = field(default_factory=list)
    timezone_requests: list[str] = field(default_factory=list)
    cookie_requests: int = 0
    crumb_requests: int = 0
    dropped: dict[str, set[int]] = field(default_factory=dict)
    nulled: dict[str, set[int]] = field(default_factory=dict)
    spill_before: int = 0
    splits: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    failures: deque[tuple[int, dict[str, str], str] | Exception] = field(default_factory=deque)

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` history requests with ``status`` instead of bars."""
        if body is None:
            body = "Too Many Requests\r\n" if status == 429 else "<html><body>Error</body></html>"
        for _ in range(times):
            self.failures.append((status, dict(headers or {}), body))

    def break_connection_next(self, times: int = 1) -> None:
        """Let the next ``times`` history requests fail as a dropped connection."""
        for _ in range(times):
            self.failures.append(requests.ConnectionError("Connection reset by peer"))

    def drop(self, symbol: str, *starts: pd.Timestamp) -> None:
        """Leave the bars starting at ``starts`` out of every answer (a gap)."""
        self.dropped.setdefault(symbol, set()).update(int(start.timestamp()) for start in starts)

    def null(self, symbol: str, *starts: pd.Timestamp) -> None:
        """Send the bars starting at ``starts`` with null prices and volume, as Yahoo does."""
        self.nulled.setdefault(symbol, set()).update(int(start.timestamp()) for start in starts)

    def split(self, symbol: str, moment: pd.Timestamp, ratio: float) -> None:
        """A ``ratio``-for-one split at ``moment``: Yahoo restates every earlier bar.

        Yahoo's open, high, low and close (not only its adjusted close) are
        split-adjusted, so earlier prices are divided by ``ratio`` and
        volumes multiplied by it.
        """
        self.splits.setdefault(symbol, []).append((int(moment.timestamp()), ratio))

    def register(self) -> None:
        """Add the fake's endpoints to the mock."""
        self.mock.add_callback(responses.GET, "https://fc.yahoo.com/", callback=self._cookie)
        for host in (QUERY1, QUERY2):
            self.mock.add_callback(responses.GET, f"{host}/v1/test/getcrumb", callback=self._crumb)
        self.mock.add_callback(
            responses.GET, "https://guce.yahoo.com/consent", callback=self._consent_page
        )
        self.mock.add_callback(responses.GET, CHART_URL, callback=self._chart)
        self.mock.add_callback(responses.GET, QUOTE_SUMMARY_URL, callback=self._quote_summary)

    # The endpoints.

    def _cookie(self, request: requests.PreparedRequest) -> tuple[int, Any, str]:
        self.cookie_requests += 1
        expires = (datetime.now(ZoneInfo("UTC")) + timedelta(days=365)).strftime(
            "%a, %d-%b-%Y %H:%M:%S GMT"
        )
        cookie = (
            f"A3={COOKIE}; Expires={expires}; Max-Age=31557600; Domain=.yahoo.com; Path=/; "
            "SameSite=None; Secure; HttpOnly"
        )
        headers = [("Set-Cookie", cookie), ("Content-Type", "text/html; charset=utf-8")]
        return 404, headers, "<!DOCTYPE html><html><body>Not Found</body></html>"

    def _crumb(self, request: requests.PreparedRequest) -> tuple[int, Any, str]:
        self.crumb_requests += 1
        if f"A3={COOKIE}" not in str(request.headers.get("Cookie", "")):
            body = _finance_error("Unauthorized", "Invalid Cookie")
            return 401, {"Content-Type": "application/json"}, body
        return 200, {"Content-Type": "text/plain;charset=utf-8"}, CRUMB

    def _consent_page(self, request: requests.PreparedRequest) -> tuple[int, Any, str]:
        return 200, {"Content-Type": "text/html"}, "<html><body>Yahoo</body></html>"

    def _quote_summary(self, request: requests.PreparedRequest) -> tuple[int, Any, str]:
        symbol = unquote(urlsplit(str(request.url)).path.rsplit("/", 1)[-1])
        body = json.dumps(
            {
                "quoteSummary": {
                    "result": None,
                    "error": {
                        "code": "Not Found",
                        "description": f"Quote not found for symbol: {symbol}",
                    },
                }
            }
        )
        return 404, {"Content-Type": "application/json"}, body

    def _chart(self, request: requests.PreparedRequest) -> tuple[int, Any, str]:
        url = urlsplit(str(request.url))
        match = CHART_URL.match(str(request.url))
        assert match is not None
        symbol = unquote(match.group(1))
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        interval = query.get("interval", "1d")
        json_headers = {"Content-Type": "application/json;charset=utf-8"}
        market = MARKETS.get(symbol)
        if "period1" not in query:
            self.timezone_requests.append(symbol)
            if market is None:
                return 404, json_headers, _chart_error("Not Found", _NO_DATA)
            return 200, json_headers, json.dumps(self._latest_day(market, query))
        start, end = int(query["period1"]), int(query["period2"])
        self.history_requests.append(
            ChartRequest(
                symbol,
                interval,
                pd.Timestamp(start, unit="s", tz="UTC"),
                pd.Timestamp(end, unit="s", tz="UTC"),
                query.get("crumb"),
                _text(request.headers.get("Cookie")),
            )
        )
        if self.failures:
            failure = self.failures.popleft()
            if isinstance(failure, Exception):
                raise failure
            return failure
        if market is None:
            return 404, json_headers, _chart_error("Not Found", _NO_DATA)
        refusal = _refusal(interval, start, end)
        if refusal is not None:
            return 422, json_headers, _chart_error("Unprocessable Entity", refusal)
        if interval not in MINUTE_INTERVALS and interval != "1d":
            description = f"Invalid input - interval={interval} is not supported by this fake"
            return 400, json_headers, _chart_error("Bad Request", description)
        starts = self._bar_starts(market, interval, start, end)
        return 200, json_headers, json.dumps(self._result(market, interval, starts, query))

    # Bars.

    def _bar_starts(self, market: Market, interval: str, start: int, end: int) -> list[int]:
        if interval == "30m":
            interval = "15m"  # yfinance asks for 15m bars and makes 30m ones itself
        step = 86_400 if interval == "1d" else MINUTE_INTERVALS[interval] * 60
        margin = 4 * 86_400 + self.spill_before * step
        candidates = _schedule(market, interval, step, start - margin, end)
        inside = [moment for moment in candidates if start <= moment < end]
        before = [moment for moment in candidates if moment < start]
        spilled = before[len(before) - self.spill_before :] if self.spill_before else []
        dropped = self.dropped.get(market.symbol, set())
        return [moment for moment in spilled + inside if moment not in dropped]

    def _result(
        self, market: Market, interval: str, starts: list[int], query: dict[str, str]
    ) -> dict[str, Any]:
        meta = _meta(market, interval, range_text="")
        if interval != "1d":
            meta["tradingPeriods"] = _trading_periods(market, starts)
        result: dict[str, Any] = {"meta": meta}
        nulled = self.nulled.get(market.symbol, set())
        step_minutes = 1440 if interval == "1d" else MINUTE_INTERVALS.get(interval, 15)
        columns: dict[str, list[Any]] = {
            "open": [],
            "high": [],
            "low": [],
            "close": [],
            "volume": [],
        }
        for moment in starts:
            values = split_adjusted(
                bar_values(market.symbol, moment, step_minutes),
                [ratio for when, ratio in self.splits.get(market.symbol, []) if moment < when],
            )
            for name, value in zip(columns, values, strict=True):
                columns[name].append(None if moment in nulled else value)
        if starts:
            result["timestamp"] = starts
            quote: dict[str, list[Any]] = {
                name: columns[name] for name in ("low", "volume", "close", "open", "high")
            }
            result["indicators"] = {"quote": [quote]}
            if interval == "1d":
                adjusted = [
                    None if close is None else close * ADJUSTMENT for close in columns["close"]
                ]
                result["indicators"]["adjclose"] = [{"adjclose": adjusted}]
        else:
            # Yahoo's answer for a known symbol and a range without bars.
            result["indicators"] = {"quote": [{}]}
            if interval == "1d":
                result["indicators"]["adjclose"] = [{}]
        return {"chart": {"result": [result], "error": None}}

    def _latest_day(self, market: Market, query: dict[str, str]) -> dict[str, Any]:
        now = int(pd.Timestamp.now(tz="UTC").timestamp())
        starts = self._bar_starts(market, "1d", now - 6 * 86_400, now)[-1:]
        answer = self._result(market, "1d", starts, query)
        answer["chart"]["result"][0]["meta"]["range"] = "1d"
        return answer


def bar_values(
    symbol: str, moment: int, step_minutes: int
) -> tuple[float, float, float, float, int]:
    """The open, high, low, close and volume the fake serves for the bar starting at ``moment``."""
    base = MARKETS[symbol].base_price
    level = base * (1 + 0.05 * math.sin(moment / 86_400 / 7) + 0.01 * math.sin(moment / 5_400))
    open_ = round(level, 4)
    close = round(level * (1 + 0.003 * math.sin(moment / 613 + 1)), 4)
    high = round(max(open_, close) * 1.0015, 4)
    low = round(min(open_, close) * 0.9985, 4)
    volume = (1_000 + (moment // 60) % 997) * step_minutes
    return open_, high, low, close, volume


def split_adjusted(
    values: tuple[float, float, float, float, int], ratios: list[float]
) -> tuple[float, float, float, float, float]:
    """A bar's values after the splits of ``ratios``: prices divided, volume multiplied."""
    open_, high, low, close, volume = values
    factor = 1.0
    for ratio in ratios:
        factor *= ratio
    if factor == 1.0:
        return open_, high, low, close, volume
    return open_ / factor, high / factor, low / factor, close / factor, volume * factor


def expected_bars(
    symbol: str,
    starts: list[pd.Timestamp],
    step_minutes: int,
    *,
    stamps: list[pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """The canonical frame of the bars the fake serves at ``starts`` (Yahoo's start times).

    ``stamps`` replaces the index, for daily bars that quantdesk stamps by date.
    """
    rows = [bar_values(symbol, int(start.timestamp()), step_minutes) for start in starts]
    index = pd.DatetimeIndex(stamps if stamps is not None else starts, name="time")
    return pd.DataFrame(
        rows,
        columns=["open", "high", "low", "close", "volume"],
        index=index.as_unit("ns"),
        dtype="float64",
    )


def session_starts(
    symbol: str, start: pd.Timestamp, end: pd.Timestamp, minutes: int
) -> list[pd.Timestamp]:
    """Yahoo's bar starts for ``symbol`` in ``[start, end)`` at a bar length of ``minutes``."""
    fake = FakeYahoo(responses.RequestsMock())
    interval = "1d" if minutes == 1440 else f"{minutes}m"
    moments = fake._bar_starts(
        MARKETS[symbol], interval, int(start.timestamp()), int(end.timestamp())
    )
    return [pd.Timestamp(moment, unit="s", tz="UTC") for moment in moments]


@contextmanager
def serving_fake_yahoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    """Serve the fake through ``responses`` to a freshly isolated yfinance."""
    isolate_yfinance(monkeypatch)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeYahoo(mock)
        fake.register()
        yield fake


def isolate_yfinance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reset yfinance's process-wide state for one test, and keep its caches off disk.

    yfinance keeps one ``YfData`` for the whole process (cookie, crumb, cookie
    strategy, an in-memory cache of chart answers), a count of time-zone
    fallbacks, and SQLite caches of time zones and cookies under the user's
    cache directory. Each test starts from a new ``YfData`` and yfinance's own
    no-op caches.
    """
    from yfinance import base, cache, data  # type: ignore[import-untyped]

    monkeypatch.setattr(data.SingletonMeta, "_instances", {})
    monkeypatch.setattr(cache._TzCacheManager, "_tz_cache", cache._TzCacheDummy())
    monkeypatch.setattr(cache._CookieCacheManager, "_Cookie_cache", cache._CookieCacheDummy())
    monkeypatch.setattr(base, "_tz_info_fetch_ctr", 0)
    data.YfData.cache_get.cache_clear()


_NO_DATA = "No data found, symbol may be delisted"


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _chart_error(code: str, description: str) -> str:
    return json.dumps(
        {"chart": {"result": None, "error": {"code": code, "description": description}}}
    )


def _finance_error(code: str, description: str) -> str:
    return json.dumps(
        {"finance": {"result": None, "error": {"code": code, "description": description}}}
    )


def _refusal(interval: str, start: int, end: int) -> str | None:
    now = pd.Timestamp.now(tz="UTC").timestamp()
    prefix = f"{interval} data not available for startTime={start} and endTime={end}."
    if interval == "1m" and end - start > ONE_MINUTE_REQUEST_DAYS * 86_400:
        limit = "Only 7 days worth of 1m granularity data are allowed to be fetched per request."
        return f"{prefix} {limit}"
    kept = KEPT_DAYS.get(interval)
    if kept is not None and start < now - kept * 86_400:
        return f"{prefix} The requested range must be within the last {kept} days."
    return None


def _schedule(market: Market, interval: str, step: int, start: int, end: int) -> list[int]:
    if market.session is None:
        return list(range(math.ceil(start / step) * step, end, step))
    moments: list[int] = []
    for day in _days(market, start, end):
        opens = datetime.combine(day, market.session[0], market.zone)
        closes = datetime.combine(day, market.session[1], market.zone)
        if interval == "1d":
            moments.append(int(opens.timestamp()))
            continue
        moment = int(opens.timestamp())
        while moment < closes.timestamp():
            moments.append(moment)
            moment += step
    return [moment for moment in moments if start <= moment < end]


def _days(market: Market, start: int, end: int) -> Iterator[date]:
    first = datetime.fromtimestamp(start, market.zone).date()
    last = datetime.fromtimestamp(end, market.zone).date()
    day = first
    while day <= last:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def _period(market: Market, day: date, opens: time, closes: time) -> dict[str, Any]:
    start = datetime.combine(day, opens, market.zone)
    end = (
        datetime.combine(day, closes, market.zone)
        if closes != time(0)
        else start + timedelta(days=1)
    )
    offset = start.utcoffset() or timedelta(0)
    return {
        "timezone": start.tzname(),
        "start": int(start.timestamp()),
        "end": int(end.timestamp()),
        "gmtoffset": int(offset.total_seconds()),
    }


def _trading_periods(market: Market, starts: list[int]) -> list[list[dict[str, Any]]]:
    days = sorted({datetime.fromtimestamp(moment, market.zone).date() for moment in starts})
    opens, closes = market.session or (time(0), time(0))
    return [[_period(market, day, opens, closes)] for day in days]


def _meta(market: Market, interval: str, *, range_text: str) -> dict[str, Any]:
    today = datetime.now(market.zone).date()
    opens, closes = market.session or (time(0), time(0))
    regular = _period(market, today, opens, closes)
    pre = dict(regular, start=regular["start"] - 5 * 3_600 - 1_800, end=regular["start"])
    post = dict(regular, start=regular["end"], end=regular["end"] + 4 * 3_600)
    price = bar_values(market.symbol, regular["start"], 1440)[3]
    return {
        "currency": "USD",
        "symbol": market.symbol,
        "exchangeName": market.exchange,
        "fullExchangeName": market.full_exchange,
        "instrumentType": market.instrument_type,
        "firstTradeDate": 345_479_400,
        "regularMarketTime": regular["start"],
        "hasPrePostMarketData": market.session is not None,
        "gmtoffset": regular["gmtoffset"],
        "timezone": regular["timezone"],
        "exchangeTimezoneName": market.timezone,
        "regularMarketPrice": price,
        "fiftyTwoWeekHigh": round(price * 1.2, 4),
        "fiftyTwoWeekLow": round(price * 0.8, 4),
        "regularMarketDayHigh": round(price * 1.01, 4),
        "regularMarketDayLow": round(price * 0.99, 4),
        "regularMarketVolume": 51_234_567,
        "chartPreviousClose": price,
        "priceHint": 2,
        "currentTradingPeriod": {"pre": pre, "regular": regular, "post": post},
        "dataGranularity": interval,
        "range": range_text,
        "validRanges": VALID_RANGES,
    }
