"""Bars from Alpaca's market data API: ``alpaca:AAPL`` (US stocks) and ``alpaca:BTC/USD`` (crypto).

A symbol with a slash is a crypto pair, served by alpaca-py's
``CryptoHistoricalDataClient`` (``GET /v1beta3/crypto/us/bars``) without an
API key. Any other symbol is a US stock, served by
``StockHistoricalDataClient`` (``GET /v2/stocks/bars``), which needs a key:
``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY`` in the environment, else the
key stored with ``quantdesk keys add alpaca``. The key is
never logged nor put in a message.

Units and conventions of the frames this source returns:

- Prices are in US dollars. Stock prices are adjusted for splits and
  dividends (Alpaca's ``adjustment=all``) unless the source is built with
  ``adjustment="raw"`` (or ``"split"``, ``"dividend"``). Adjusted history is
  the one a backtest needs across a split, but Alpaca restates it after every
  corporate action, so :meth:`AlpacaSource.adjustment` declares the basis and
  the loader checks a cached bar again whenever it extends a series; when
  Alpaca restated it, the whole series is fetched afresh. Crypto prices are
  never adjusted.
- Volume is in shares for stocks and in units of the base currency (coins)
  for crypto.
- Times are bar starts in UTC. Minute and hour bars are Alpaca's own, on
  UTC-aligned grids. Alpaca stamps a stock's daily bar at midnight New York
  time; this source stamps it at 00:00 UTC of that trading date, as the
  ``sample`` source does. It covers everything the feed reports that day,
  pre- and post-market trading included. Weekly and monthly (``1M``) stock
  bars are built from the daily ones (weeks start Monday 00:00 UTC, months
  on their first day 00:00 UTC). Daily, weekly and monthly crypto bars
  are built from hourly ones so that days run from midnight to midnight UTC
  like every other crypto source (Alpaca's own start at midnight US Central
  time).
- Stock bars come from one feed: ``iex`` by default, the one free accounts
  may query. IEX carries a few percent of US trading, so volumes are IEX's
  share and thinly traded symbols have missing bars. Paid plans set the
  environment variable ``ALPACA_DATA_FEED=sip`` (or pass ``feed="sip"``) for
  the consolidated tape. A feed or adjustment other than the defaults is
  part of the cache name (``AAPL;feed=sip``), so series never mix.
- Bars exist only for intervals with trades; gaps are left as gaps.

Requests ask for 10,000 bars at a time and follow ``next_page_token``; each
page is retried on its own. HTTP 429 (honouring ``Retry-After`` or
``X-RateLimit-Reset``), 5xx answers and network failures are retried with
:func:`quantdesk.data.retry.call_with_retries`; alpaca-py's own fixed-wait
retry is switched off so there is one policy. Alpaca answers an empty map for
a symbol it does not know, so when a request returns no bar at all the source
asks for the symbol's latest bar, and refuses the symbol when there is none.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.frame import INDEX_NAME, OHLCV_COLUMNS, empty_ohlcv, epoch_nanoseconds
from quantdesk.core.resample import resample_ohlcv
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import MONTH, Timeframe
from quantdesk.data.adjustment import NONE
from quantdesk.data.credentials import ApiKey, find_api_key
from quantdesk.data.provider_errors import provider_message, retry_after_seconds, without_secrets
from quantdesk.data.retry import RetryClock, RetryPolicy
from quantdesk.data.source import RemoteSource, settled_exchange_bars_before
from quantdesk.errors import FatalSourceError, RateLimitError, RetryableSourceError, SourceError

if TYPE_CHECKING:
    from alpaca.common.exceptions import APIError
    from alpaca.common.rest import RESTClient

logger = logging.getLogger(__name__)

Market = Literal["stock", "crypto"]

PROVIDER = "alpaca"
KEY_VARIABLES = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
FEED_VARIABLE = "ALPACA_DATA_FEED"
DEFAULT_FEED = "iex"
STOCK_FEEDS = ("iex", "sip", "delayed_sip", "otc", "boats", "overnight")
DEFAULT_ADJUSTMENT = "all"
ADJUSTMENTS = ("all", "raw", "split", "dividend")
PAGE_LIMIT = 10_000
REQUEST_TIMEOUT_SECONDS = (10.0, 60.0)
"""Connect and read timeouts of one request; alpaca-py sets none, so a stalled socket would hang."""

# Counts that divide the hour and the day: Alpaca's grids and quantdesk's then agree.
_MINUTE_COUNTS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)
_HOUR_COUNTS = (1, 2, 3, 4, 6, 8, 12)
_MINUTE = 60
_HOUR = Timeframe(3_600)
_DAY = Timeframe(86_400)
_WEEK = Timeframe(604_800)
SUPPORTED_TIMEFRAMES: tuple[Timeframe, ...] = (
    *(Timeframe(count * _MINUTE) for count in _MINUTE_COUNTS),
    *(Timeframe(count * _HOUR.seconds) for count in _HOUR_COUNTS),
    _DAY,
    _WEEK,
    MONTH,
)
_SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-]*(/[A-Z0-9][A-Z0-9.\-]*)?$")
_KEY_HELP = (
    "store a key with 'quantdesk keys add alpaca' (it asks for the key id and secret) "
    f"or set {KEY_VARIABLES[0]} and {KEY_VARIABLES[1]}"
)


class AlpacaSource(RemoteSource):
    """US stock and crypto bars from Alpaca; see the module docstring for units and conventions.

    Parameters
    ----------
    settings
        The settings in effect; the vault is reached through them.
    feed
        The stock feed: ``"iex"`` (free plans) or ``"sip"`` (paid), among
        others; ``ALPACA_DATA_FEED`` or ``"iex"`` when None.
    adjustment
        Stock price adjustment: ``"all"`` (splits and dividends, the
        default), ``"split"``, ``"dividend"`` or ``"raw"``.
    retry_policy, retry_clock
        How failed requests are retried and how the waits pass; the class
        attributes of the same names when None (tests set a recording clock).
    """

    name = "alpaca"
    description = (
        "Alpaca market data: US stocks (alpaca:AAPL; API key needed) and crypto pairs "
        "(alpaca:BTC/USD; no key)"
    )

    def __init__(
        self,
        settings: Settings,
        *,
        feed: str | None = None,
        adjustment: str = DEFAULT_ADJUSTMENT,
        retry_policy: RetryPolicy | None = None,
        retry_clock: RetryClock | None = None,
    ) -> None:
        super().__init__(settings, retry_policy=retry_policy, retry_clock=retry_clock)
        feed_text = feed if feed is not None else os.environ.get(FEED_VARIABLE, DEFAULT_FEED)
        self.feed = _checked_option("feed", feed_text, STOCK_FEEDS, FEED_VARIABLE)
        self.adjustment_basis = _checked_option("adjustment", adjustment, ADJUSTMENTS, None)
        self._clients: dict[Market, RESTClient] = {}
        self._api_key: ApiKey | None = None
        self._known_symbols: dict[tuple[Market, str], bool] = {}

    def check_request(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> None:
        """Refuse malformed symbols and timeframes Alpaca cannot serve.

        Raises
        ------
        FatalSourceError
            For a symbol that is not like ``AAPL``, ``BRK.B`` or ``BTC/USD``,
            or a timeframe outside :data:`SUPPORTED_TIMEFRAMES` (the message
            lists them).
        """
        _normalized(symbol)
        if timeframe not in SUPPORTED_TIMEFRAMES:
            listed = ", ".join(item.text for item in SUPPORTED_TIMEFRAMES)
            raise FatalSourceError(f"Alpaca cannot serve {timeframe} bars; choose one of: {listed}")

    def settled_before(self, timeframe: Timeframe, now: pd.Timestamp) -> pd.Timestamp:
        """Stock bars start off the epoch grid (:30) and Alpaca revises recent ones: wait."""
        return settled_exchange_bars_before(timeframe, now)

    def cache_symbol(self, symbol: str) -> str:
        """The upper-case symbol, with the feed and adjustment when they are not the defaults.

        Returns
        -------
        str
            ``"AAPL"``, ``"AAPL;feed=sip"``, ``"AAPL;adjustment=raw"`` or ``"BTC/USD"``.
        """
        normalized = _normalized(symbol)
        if _market_of(normalized) == "crypto":
            return normalized
        options = [
            f"{option}={value}"
            for option, value, default in (
                ("feed", self.feed, DEFAULT_FEED),
                ("adjustment", self.adjustment_basis, DEFAULT_ADJUSTMENT),
            )
            if value != default
        ]
        return ";".join([normalized, *options])

    def adjustment(self, symbol: str) -> str:
        """The ``adjustment`` asked of Alpaca for a stock; ``"none"`` for a crypto pair.

        Returns
        -------
        str
            ``"all"``, ``"split"``, ``"dividend"`` or ``"raw"`` for stocks.
        """
        if _market_of(_normalized(symbol)) == "crypto":
            return NONE
        return self.adjustment_basis

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        normalized = _normalized(symbol)
        market = _market_of(normalized)
        if market == "crypto" and timeframe >= _DAY:
            hourly = self._bars(normalized, market, _HOUR, _whole_bars(time_range, timeframe))
            return resample_ohlcv(hourly, timeframe, source_timeframe=_HOUR)
        if market == "stock" and timeframe in (_WEEK, MONTH):
            daily = self._daily_stock_bars(normalized, _whole_bars(time_range, timeframe))
            return resample_ohlcv(daily, timeframe, source_timeframe=_DAY)
        if market == "stock" and timeframe == _DAY:
            return self._daily_stock_bars(normalized, time_range)
        return self._bars(normalized, market, timeframe, time_range)

    def _daily_stock_bars(self, symbol: str, time_range: TimeRange) -> pd.DataFrame:
        # Alpaca stamps a day at 04:00 or 05:00 UTC; ask for whole UTC days so
        # every day whose 00:00 UTC label lies in the range comes back.
        frame = self._bars(symbol, "stock", _DAY, _whole_bars(time_range, _DAY))
        half_day = _DAY.nanoseconds // 2
        labels = _DAY.bucket_starts(epoch_nanoseconds(frame) + half_day)
        relabelled = frame.set_axis(pd.DatetimeIndex(labels, tz="UTC", name=INDEX_NAME))
        return relabelled[~relabelled.index.duplicated(keep="last")]

    def _bars(
        self, symbol: str, market: Market, timeframe: Timeframe, query: TimeRange
    ) -> pd.DataFrame:
        """Every page of ``symbol``'s bars whose start lies in ``query`` (end included)."""
        client = self._client(market)
        path, parameters = self._bars_request(symbol, market, timeframe, query)
        rows: list[Mapping[str, Any]] = []
        page_token: str | None = None
        page = 0
        while True:
            page += 1
            page_parameters = {**parameters, "page_token": page_token} if page_token else parameters
            describe = f"Alpaca {market} bars of {symbol} {timeframe} {query}, page {page}"
            answer = self._call(client, path, page_parameters, describe)
            page_rows = answer["bars"].get(symbol) or []
            rows.extend(page_rows)
            logger.debug("%s: %d bars", describe, len(page_rows))
            next_token = answer.get("next_page_token")
            if not next_token:
                break
            if next_token == page_token:
                raise RetryableSourceError(
                    f"{describe}: Alpaca sent the same page token twice; try again later"
                )
            page_token = str(next_token)
        if not rows:
            self._check_known(client, symbol, market)
            return empty_ohlcv()
        self._known_symbols[(market, symbol)] = True
        return _frame_of(rows, describe=f"Alpaca {market} bars of {symbol}")

    def _bars_request(
        self, symbol: str, market: Market, timeframe: Timeframe, query: TimeRange
    ) -> tuple[str, dict[str, Any]]:
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.requests import CryptoBarsRequest, StockBarsRequest

        common: dict[str, Any] = {
            "symbol_or_symbols": symbol,
            "timeframe": _alpaca_timeframe(timeframe),
            "start": query.start.to_pydatetime(),
            "end": query.end.to_pydatetime(),
            "limit": PAGE_LIMIT,
        }
        if market == "crypto":
            return "/crypto/us/bars", CryptoBarsRequest(**common).to_request_fields()
        request = StockBarsRequest(
            **common, adjustment=Adjustment(self.adjustment_basis), feed=DataFeed(self.feed)
        )
        return "/stocks/bars", request.to_request_fields()

    def _check_known(self, client: RESTClient, symbol: str, market: Market) -> None:
        """Refuse ``symbol`` when Alpaca has no latest bar for it; remembered per source."""
        from alpaca.data.enums import DataFeed
        from alpaca.data.requests import CryptoLatestBarRequest, StockLatestBarRequest

        if (market, symbol) not in self._known_symbols:
            if market == "crypto":
                path = "/crypto/us/latest/bars"
                fields = CryptoLatestBarRequest(symbol_or_symbols=symbol).to_request_fields()
            else:
                path = "/stocks/bars/latest"
                request = StockLatestBarRequest(symbol_or_symbols=symbol, feed=DataFeed(self.feed))
                fields = request.to_request_fields()
            answer = self._call(client, path, fields, f"Alpaca latest {market} bar of {symbol}")
            self._known_symbols[(market, symbol)] = bool(answer["bars"].get(symbol))
        if self._known_symbols[(market, symbol)]:
            return
        if market == "crypto":
            raise FatalSourceError(
                f"Alpaca knows no crypto pair {symbol!r}; use a pair such as 'BTC/USD' or 'ETH/USD'"
            )
        hint = "" if self.feed == "sip" else f", or set {FEED_VARIABLE}=sip if your plan has it"
        raise FatalSourceError(
            f"Alpaca has no bars at all for stock {symbol!r} on the {self.feed} feed; "
            f"check the symbol (e.g. 'AAPL', 'BRK.B'){hint}"
        )

    def _call(
        self, client: RESTClient, path: str, parameters: dict[str, Any], describe: str
    ) -> dict[str, Any]:
        operation = functools.partial(self._get, client, path, parameters, describe)
        return self.with_retries(operation, describe=describe)

    def _get(
        self, client: RESTClient, path: str, parameters: dict[str, Any], describe: str
    ) -> dict[str, Any]:
        import requests
        from alpaca.common.exceptions import APIError

        failure: SourceError | None = None
        try:
            answer = client.get(path, dict(parameters))
        except APIError as error:
            failure = self._translated(error, describe)
        except requests.exceptions.JSONDecodeError:
            failure = RetryableSourceError("Alpaca's answer is not JSON")
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as error:
            failure = RetryableSourceError(
                f"network failure ({type(error).__name__}); check the connection"
            )
        except requests.RequestException as error:
            failure = FatalSourceError(f"{describe}: request failed ({type(error).__name__})")
        if failure is not None:
            # Raised outside the handler: alpaca-py's error holds the request and
            # its key headers, and must not ride along as __context__.
            raise failure
        if not isinstance(answer, dict) or not isinstance(answer.get("bars"), dict):
            raise RetryableSourceError("Alpaca's answer holds no 'bars' map")
        return answer

    def _translated(self, error: APIError, describe: str) -> SourceError:
        response = error.response
        status = response.status_code if response is not None else None
        detail = provider_message(without_secrets(str(error), self._api_key))
        what = f"HTTP {status}" + (f": {detail}" if detail else "")
        if status == 429:
            retry_after = retry_after_seconds(response.headers if response is not None else None)
            return RateLimitError(f"Alpaca's rate limit ({what})", retry_after=retry_after)
        if status is None or status >= 500:
            return RetryableSourceError(f"Alpaca failed ({what})")
        if status == 403 and "subscription" in detail.lower():
            return FatalSourceError(
                f"{describe}: your Alpaca plan does not cover this ({what}); use the iex feed "
                f"({FEED_VARIABLE}=iex) or end the range at least 15 minutes ago"
            )
        if status in (401, 403):
            return FatalSourceError(
                f"Alpaca refused {self._key_origin()} ({what}); check it in the Alpaca "
                f"dashboard, then {_KEY_HELP} (add --replace to overwrite a stored key)"
            )
        return FatalSourceError(
            f"{describe}: Alpaca rejected the request ({what}); check the symbol, e.g. "
            "'AAPL' or 'BTC/USD'"
        )

    def _client(self, market: Market) -> RESTClient:
        if market not in self._clients:
            from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient

            client: RESTClient
            if market == "crypto":
                client = CryptoHistoricalDataClient()
            else:
                key = self._key()
                client = StockHistoricalDataClient(api_key=key.key_id, secret_key=key.secret)
            _configure(client)
            self._clients[market] = client
        return self._clients[market]

    def _key(self) -> ApiKey:
        if self._api_key is None:
            found = find_api_key(PROVIDER, self.settings, environment=KEY_VARIABLES)
            if found is None:
                raise FatalSourceError(f"Alpaca stock bars need an API key; {_KEY_HELP}")
            self._api_key = found
        return self._api_key

    def _key_origin(self) -> str:
        key = self._api_key
        if key is None:
            return "the request"
        if key.label == "environment":
            return f"the API key in {KEY_VARIABLES[0]} and {KEY_VARIABLES[1]}"
        return f"the API key stored for 'alpaca' (label {key.label!r})"


def _checked_option(kind: str, value: str, choices: tuple[str, ...], variable: str | None) -> str:
    normalized = value.strip().lower()
    if normalized not in choices:
        origin = f" (from {variable})" if variable and os.environ.get(variable) == value else ""
        raise FatalSourceError(
            f"unknown Alpaca {kind} {value!r}{origin}; choose one of: {', '.join(choices)}"
        )
    return normalized


def _normalized(symbol: str) -> str:
    normalized = symbol.strip().upper()
    if not _SYMBOL_PATTERN.match(normalized):
        raise FatalSourceError(
            f"{symbol!r} is not an Alpaca symbol; write a stock as 'AAPL' or 'BRK.B' "
            "and a crypto pair as 'BTC/USD'"
        )
    return normalized


def _market_of(symbol: str) -> Market:
    return "crypto" if "/" in symbol else "stock"


def _alpaca_timeframe(timeframe: Timeframe) -> Any:
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

    if timeframe == _DAY:
        return TimeFrame(1, TimeFrameUnit.Day)
    if timeframe.seconds % _HOUR.seconds == 0:
        return TimeFrame(timeframe.seconds // _HOUR.seconds, TimeFrameUnit.Hour)
    return TimeFrame(timeframe.seconds // _MINUTE, TimeFrameUnit.Minute)


def _whole_bars(time_range: TimeRange, timeframe: Timeframe) -> TimeRange:
    """Widen a range to whole bars of ``timeframe``, so bars built from finer ones are complete."""
    edges = np.array([time_range.start.value, time_range.end.value - 1], dtype=np.int64)
    first, last = timeframe.bucket_starts(edges)
    return TimeRange(
        pd.Timestamp(int(first), tz="UTC"),
        pd.Timestamp(int(timeframe.shift_nanoseconds(np.array([last]))[0]), tz="UTC"),
    )


def _frame_of(rows: list[Mapping[str, Any]], *, describe: str) -> pd.DataFrame:
    """Alpaca's bar objects (``t``, ``o``, ``h``, ``l``, ``c``, ``v``) as a canonical frame."""
    try:
        times = pd.to_datetime([row["t"] for row in rows], utc=True, format="ISO8601")
        columns = {
            column: np.array([row[field] for row in rows], dtype=np.float64)
            for column, field in zip(OHLCV_COLUMNS, "ohlcv", strict=True)
        }
    except (KeyError, TypeError, ValueError) as error:
        raise FatalSourceError(
            f"{describe}: Alpaca sent a bar quantdesk cannot read ({type(error).__name__}: "
            f"{provider_message(error)}); report it with the symbol and range"
        ) from None
    index = pd.DatetimeIndex(times, name=INDEX_NAME).as_unit("ns")
    frame = pd.DataFrame(columns, index=index)
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
    duplicated = frame.index.duplicated(keep="last")
    if duplicated.any():
        logger.debug("%s: dropped %d bars repeated across pages", describe, duplicated.sum())
        frame = frame[~duplicated]
    return frame


def _configure(client: RESTClient) -> None:
    """Switch off alpaca-py's own retries and give every request a timeout.

    alpaca-py 0.44 retries 429 and 504 three times with a fixed three-second
    sleep, and its data clients take no argument to change that; setting the
    attempts to zero leaves :func:`call_with_retries` as the one policy. Its
    session sends requests without a timeout.
    """
    client._retry = 0
    client._retry_codes = []
    session = client._session
    send = session.request

    def request_with_timeout(method: str, url: str, **options: Any) -> Any:
        options.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        return send(method, url, **options)

    setattr(session, "request", request_with_timeout)  # noqa: B010
