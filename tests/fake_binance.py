"""Binance's spot REST API in its real wire format, served through ``responses``.

ccxt's ``binance`` client runs unchanged against it: ``requests`` never opens
a socket, ``responses`` answers from the callbacks below. Two endpoints are
served, the ones ccxt calls for public candles once ``fetchMarkets`` is
limited to spot and ``fetchCurrencies`` is off:

- ``GET /api/v3/exchangeInfo``: the trading rules, with a realistic
  ``symbols`` list (status, assets, precisions, order types, filters,
  permission sets).
- ``GET /api/v3/klines``: candles as arrays ``[openTime, open, high, low,
  close, volume, closeTime, quoteVolume, trades, takerBuyBase, takerBuyQuote,
  ignore]``, prices and volumes as decimal strings. ``startTime``,
  ``endTime`` and ``limit`` (default 500, at most 1000) select candles by
  open time as Binance does; without ``startTime`` the most recent are
  returned. Unknown symbols get HTTP 400 ``{"code":-1121,"msg":"Invalid
  symbol."}``; a throttled request gets HTTP 429 with ``Retry-After``; a
  test can also make the next requests fail with a 5xx page or a dropped
  connection.

Candles are a pure function of symbol, interval and open time, so a test
can compute what any range should hold with :meth:`FakeBinance.expected`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd
import requests
import responses
from requests import PreparedRequest

SPOT_API = "https://api.binance.com/api/v3"
INTERVAL_MILLISECONDS: dict[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
    "1M": 2_592_000_000,
}
_MONDAY_1970_01_05 = 4 * 86_400_000
DEFAULT_KLINES_LIMIT = 500
MAXIMUM_KLINES_LIMIT = 1000
_JSON_HEADERS = {"Content-Type": "application/json;charset=UTF-8"}
Response = tuple[int, dict[str, str], str]


@dataclass(frozen=True)
class Market:
    """One spot symbol as exchangeInfo describes it."""

    base: str
    quote: str
    price: float
    tick_size: str
    step_size: str
    min_notional: str
    status: str = "TRADING"

    @property
    def symbol(self) -> str:
        return self.base + self.quote


MARKETS: tuple[Market, ...] = (
    Market("BTC", "USDT", 42_000.0, "0.01000000", "0.00001000", "5.00000000"),
    Market("ETH", "USDT", 2_300.0, "0.01000000", "0.00010000", "5.00000000"),
    Market("ETH", "BTC", 0.055, "0.00001000", "0.00010000", "0.00010000"),
    Market("BNB", "USDT", 310.0, "0.01000000", "0.00100000", "5.00000000"),
    Market("SOL", "USDT", 98.0, "0.01000000", "0.00100000", "5.00000000"),
    Market("LUNA", "USDT", 0.5, "0.00010000", "0.01000000", "5.00000000", status="BREAK"),
)


def milliseconds(time: str | pd.Timestamp) -> int:
    """Epoch milliseconds of a UTC time such as ``"2024-01-01"``."""
    stamp = pd.Timestamp(time)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value // 1_000_000)


class FakeBinance:
    """Binance's public spot endpoints, with candles the test puts in.

    Attributes
    ----------
    requests
        Every request served, as ``(endpoint, query parameters)``.
    repeat_previous
        How many candles from before ``startTime`` each klines page starts
        with, so consecutive pages overlap; 0, as Binance does.
    send_last_twice
        Whether each klines page repeats its last candle, as some exchanges
        do; False, as Binance does.
    answer_within_limit
        Whether a klines page holds only candles opening in ``[startTime,
        startTime + limit * interval]``, as some exchanges answer, so a gap
        longer than a page gives an empty page; False: Binance sends the
        next candles after a gap.
    """

    def __init__(self, mock: responses.RequestsMock, markets: Iterable[Market] = MARKETS) -> None:
        self.markets = {market.symbol: market for market in markets}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.repeat_previous = 0
        self.send_last_twice = False
        self.answer_within_limit = False
        self._candles: dict[tuple[str, str], set[int]] = {}
        self._throttled: list[int] = []
        self._failures: list[int | None] = []
        self._delisted: set[str] = set()
        mock.add_callback(responses.GET, f"{SPOT_API}/exchangeInfo", callback=self._exchange_info)
        mock.add_callback(
            responses.GET, re.compile(re.escape(f"{SPOT_API}/klines")), callback=self._klines
        )

    # what a test sets up

    def add_candles(
        self,
        symbol: str,
        interval: str,
        start: str | pd.Timestamp,
        end: str | pd.Timestamp,
        *,
        missing: Iterable[tuple[str, str]] = (),
        aligned: bool = True,
    ) -> None:
        """Let the exchange hold candles opening in ``[start, end)``, minus ``missing`` spans.

        Candles open on the interval's boundaries (weekly ones on Mondays and
        monthly ones, ``1M``, on the first of the month at 00:00 UTC, as
        Binance's do); with ``aligned=False`` they open at ``start`` and every
        interval after, as Binance's hourly candles did after its restart on
        2018-02-09.
        """
        step = INTERVAL_MILLISECONDS[interval]
        origin = _MONDAY_1970_01_05 if interval == "1w" else 0
        first = milliseconds(start)
        if aligned:
            first = -(-(first - origin) // step) * step + origin
        gaps = [(milliseconds(gap_start), milliseconds(gap_end)) for gap_start, gap_end in missing]
        times: Iterable[int] = range(first, milliseconds(end), step)
        if interval == "1M":
            months = pd.date_range(start, end, freq="MS", tz="UTC", inclusive="left")
            times = (milliseconds(month) for month in months)
        opens = {
            open_time
            for open_time in times
            if not any(gap_start <= open_time < gap_end for gap_start, gap_end in gaps)
        }
        self._candles.setdefault((symbol, interval), set()).update(opens)

    def throttle(self, count: int = 1, *, retry_after: int = 3) -> None:
        """Answer the next ``count`` klines requests with HTTP 429 and ``Retry-After``."""
        self._throttled.extend([retry_after] * count)

    def fail(self, count: int = 1, *, status: int | None = None) -> None:
        """Fail the next ``count`` klines requests with HTTP ``status``, or drop the connection."""
        self._failures.extend([status] * count)

    def delist(self, symbol: str) -> None:
        """Take ``symbol`` off the klines endpoint while exchangeInfo still lists it."""
        self._delisted.add(symbol)

    # what a test checks

    @property
    def klines_requests(self) -> list[dict[str, str]]:
        """The query parameters of every klines request, throttled ones included."""
        return [query for endpoint, query in self.requests if endpoint == "klines"]

    @property
    def exchange_info_requests(self) -> int:
        """How often exchangeInfo was asked for."""
        return sum(endpoint == "exchangeInfo" for endpoint, _ in self.requests)

    def expected(
        self, symbol: str, interval: str, start: str | pd.Timestamp, end: str | pd.Timestamp
    ) -> pd.DataFrame:
        """The canonical frame of the candles held in ``[start, end)``, as floats."""
        opens = sorted(
            open_time
            for open_time in self._candles.get((symbol, interval), set())
            if milliseconds(start) <= open_time < milliseconds(end)
        )
        rows = [self.kline(symbol, open_time, _length(interval, open_time)) for open_time in opens]
        values = np.array([[float(value) for value in row[1:6]] for row in rows], dtype=np.float64)
        index = pd.DatetimeIndex(pd.to_datetime(opens, unit="ms", utc=True), name="time")
        columns = ["open", "high", "low", "close", "volume"]
        return pd.DataFrame(
            values.reshape(len(rows), 5), index=index.as_unit("ns"), columns=columns
        )

    def kline(self, symbol: str, open_time: int, step: int) -> list[Any]:
        """One candle in Binance's array layout; a pure function of its arguments."""
        reference = self.markets[symbol].price
        phase = open_time / 3_600_000
        open_ = reference * (1 + 0.02 * math.sin(phase / 7))
        close = reference * (1 + 0.02 * math.sin((phase + step / 3_600_000) / 7))
        high = max(open_, close) * (1 + 0.001 * (1 + math.cos(phase)))
        low = min(open_, close) * (1 - 0.001 * (1 + math.sin(phase)))
        volume = 10 + 5 * (1 + math.sin(phase / 3))
        trades = int(100 + 50 * (1 + math.cos(phase / 5)))
        return [
            open_time,
            f"{open_:.8f}",
            f"{high:.8f}",
            f"{low:.8f}",
            f"{close:.8f}",
            f"{volume:.8f}",
            open_time + step - 1,
            f"{volume * close:.8f}",
            trades,
            f"{volume / 2:.8f}",
            f"{volume * close / 2:.8f}",
            "0",
        ]

    # the endpoints

    def _record(self, endpoint: str, request: PreparedRequest) -> dict[str, str]:
        query = dict(parse_qsl(urlsplit(request.url or "").query))
        self.requests.append((endpoint, query))
        return query

    def _exchange_info(self, request: PreparedRequest) -> Response:
        self._record("exchangeInfo", request)
        body = {
            "timezone": "UTC",
            "serverTime": milliseconds(pd.Timestamp.now(tz="UTC")),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 61000,
                },
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(market) for market in self.markets.values()],
        }
        return 200, {**_JSON_HEADERS, "x-mbx-used-weight-1m": "20"}, json.dumps(body)

    def _klines(self, request: PreparedRequest) -> Response:
        query = self._record("klines", request)
        if self._failures:
            status = self._failures.pop(0)
            if status is None:
                raise requests.ConnectionError("Connection aborted: remote end closed connection")
            return status, {"Content-Type": "text/html"}, f"<html><body>{status}</body></html>"
        if self._throttled:
            retry_after = self._throttled.pop(0)
            return _error(
                429,
                -1003,
                "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per "
                "minute. Please use WebSocket Streams for live updates to avoid polling the API.",
                {"Retry-After": str(retry_after)},
            )
        symbol = query.get("symbol", "")
        if not symbol:
            return _error(
                400,
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            )
        if symbol not in self.markets or symbol in self._delisted:
            return _error(400, -1121, "Invalid symbol.")
        interval = query.get("interval", "")
        if interval not in INTERVAL_MILLISECONDS:
            return _error(400, -1120, "Invalid interval.")
        limit = int(query.get("limit", DEFAULT_KLINES_LIMIT))
        if not 1 <= limit <= MAXIMUM_KLINES_LIMIT:
            return _error(400, -1130, "Data sent for parameter 'limit' is not valid.")
        step = INTERVAL_MILLISECONDS[interval]
        opens = sorted(self._candles.get((symbol, interval), set()))
        if "endTime" in query:
            opens = [open_time for open_time in opens if open_time <= int(query["endTime"])]
        if "startTime" in query:
            earliest = int(query["startTime"]) - self.repeat_previous * step
            if self.answer_within_limit:
                latest = int(query["startTime"]) + limit * step
                opens = [open_time for open_time in opens if open_time <= latest]
            selected = [open_time for open_time in opens if open_time >= earliest][:limit]
        else:
            selected = opens[-limit:]
        if self.send_last_twice:
            selected = selected + selected[-1:]
        body = [
            self.kline(symbol, open_time, _length(interval, open_time)) for open_time in selected
        ]
        return 200, {**_JSON_HEADERS, "x-mbx-used-weight-1m": "2"}, json.dumps(body)


def _length(interval: str, open_time: int) -> int:
    """The candle's length in milliseconds: a calendar month's for ``1M``."""
    if interval != "1M":
        return INTERVAL_MILLISECONDS[interval]
    opened = pd.Timestamp(open_time, unit="ms", tz="UTC")
    return milliseconds(opened + pd.DateOffset(months=1)) - open_time


def _error(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps({"code": code, "msg": message})
    return status, {**_JSON_HEADERS, **(headers or {})}, body


def _symbol_info(market: Market) -> dict[str, Any]:
    return {
        "symbol": market.symbol,
        "status": market.status,
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": market.status == "TRADING",
        "isMarginTradingAllowed": market.quote == "USDT",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": market.tick_size,
                "maxPrice": "1000000.00000000",
                "tickSize": market.tick_size,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": market.step_size,
                "maxQty": "9000.00000000",
                "stepSize": market.step_size,
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": "100.00000000",
                "stepSize": "0.00000000",
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": "5",
                "bidMultiplierDown": "0.2",
                "askMultiplierUp": "5",
                "askMultiplierDown": "0.2",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": market.min_notional,
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"] if market.quote == "USDT" else ["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": [
            "EXPIRE_TAKER",
            "EXPIRE_MAKER",
            "EXPIRE_BOTH",
            "DECREMENT",
        ],
    }
