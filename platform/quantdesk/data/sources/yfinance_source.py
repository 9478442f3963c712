"""Bars from Yahoo Finance through yfinance: ``yfinance:SYMBOL``.

Symbols are written as Yahoo writes them: ``yfinance:AAPL`` (a stock),
``yfinance:BTC-USD`` (a crypto pair, with a dash), ``yfinance:^GSPC`` (an
index), ``yfinance:EURUSD=X`` (a currency), ``yfinance:7203.T`` (Tokyo).

The real yfinance client does the talking (Yahoo's cookie and crumb, then the
chart API, ``/v8/finance/chart/SYMBOL``), over a plain ``requests`` session
this source owns. yfinance keeps one session, cookie and crumb for the whole
process, so fetching through this source makes that session yfinance's for
the rest of the process; calls through this source are serialised.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.frame import OHLCV_COLUMNS, PRICE_COLUMNS, empty_ohlcv
from quantdesk.core.resample import resample_ohlcv
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import MONTH, Timeframe
from quantdesk.data.adjustment import SPLIT
from quantdesk.data.provider_errors import provider_message, retry_after_seconds
from quantdesk.data.retry import RetryClock, RetryPolicy
from quantdesk.data.source import RemoteSource, settled_exchange_bars_before
from quantdesk.errors import (
    DataRepairWarning,
    FatalSourceError,
    RateLimitError,
    RetryableSourceError,
    SourceError,
)

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

_DAY = pd.Timedelta(days=1)
_WEEK = Timeframe.parse("1w")
_BUILT_FROM_DAYS = (_WEEK, MONTH)
_API_HOSTS = frozenset({"query1.finance.yahoo.com", "query2.finance.yahoo.com"})
_SYMBOL_PATTERN = re.compile(r"^[A-Za-z0-9^=.&_-]{1,32}$")
_BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.5",
}
# Yahoo refuses a request that starts before the edge of what it keeps, and a
# retry may come a while after the check: refuse starts within this margin of
# the edge, and offer starts (available_range) twice as far inside it.
_EDGE_MARGIN = pd.Timedelta(minutes=30)
# yfinance keeps process-wide state (one YfData); one fetch at a time.
_YFINANCE_LOCK = threading.Lock()


@dataclass(frozen=True)
class YahooInterval:
    """How one quantdesk timeframe is asked of Yahoo.

    Attributes
    ----------
    text
        Yahoo's interval name, for example ``"1m"`` or ``"1d"``.
    kept_days
        How many days back Yahoo keeps these bars; None when it keeps them all.
    request_days
        The longest span, in days, one request may cover; None when unlimited.
    """

    text: str
    kept_days: int | None = None
    request_days: int | None = None

    @property
    def daily(self) -> bool:
        """Whether Yahoo sends these bars by trading date rather than by instant."""
        return self.text == "1d"


YAHOO_INTERVALS: dict[Timeframe, YahooInterval] = {
    Timeframe.parse("1m"): YahooInterval("1m", kept_days=30, request_days=7),
    Timeframe.parse("2m"): YahooInterval("2m", kept_days=60),
    Timeframe.parse("5m"): YahooInterval("5m", kept_days=60),
    Timeframe.parse("15m"): YahooInterval("15m", kept_days=60),
    Timeframe.parse("30m"): YahooInterval("30m", kept_days=60),
    Timeframe.parse("1h"): YahooInterval("1h", kept_days=730),
    Timeframe.parse("90m"): YahooInterval("90m", kept_days=60),
    Timeframe.parse("1d"): YahooInterval("1d"),
    # Built here from daily bars, so weeks start on Monday and months on the first 00:00 UTC.
    _WEEK: YahooInterval("1d"),
    MONTH: YahooInterval("1d"),
}
"""The timeframes this source serves and how Yahoo is asked for each."""


@dataclass(frozen=True)
class _Answer:
    """One answer from Yahoo's API hosts during an attempt."""

    path: str
    status: int
    retry_after: float | None
    description: str | None


class YfinanceSource(RemoteSource):
    """OHLCV bars from Yahoo Finance: stocks, funds, indices, currencies and crypto.

    Units and adjustment
        Prices are in the instrument's quote currency as Yahoo lists it (USD
        for ``AAPL`` and ``BTC-USD``; pence, ``GBp``, for London stocks).
        They are Yahoo's own open, high, low and close (``auto_adjust=False``):
        adjusted for splits, since Yahoo rewrites its history at each split,
        but not for dividends. Dividend adjustment would rescale every cached
        bar at each dividend; splits still restate history, so the basis is
        declared ``"split"`` and the loader checks a cached bar again before
        it extends a series, fetching the series afresh after a split. Volume
        is as Yahoo reports it: shares for stocks and funds, the quote
        currency for crypto pairs, often zero for currencies and indices.

    Times
        Intraday bars are stamped with their start in UTC, as Yahoo stamps
        them: a New York stock's hourly bars start at :30 (09:30, 10:30, ...
        New York time). Daily bars cover one trading date at the exchange; each
        is stamped with that date at 00:00 UTC (not the exchange's midnight,
        which for New York is 04:00 or 05:00 UTC), so the date reads as on
        Yahoo and daily bars line up with quantdesk's daily grid. Weekly bars
        are made here from daily ones, Monday to Sunday, stamped on Monday,
        and monthly ones (``1M``) from the daily bars of each calendar month,
        stamped on its first day.

    Timeframes and ranges
        1m, 2m, 5m, 15m, 30m, 1h, 90m, 1d, 1w and 1M. Yahoo keeps 1m bars for 30
        days, 2m to 90m bars for 60 days and 1h bars for 730 days; a fetch that
        reaches further back is refused, naming the limit. 1m bars are asked
        for in 7-day windows, the most Yahoo gives per request. Bars Yahoo
        sends without prices are left out; they show as gaps.

    Failures
        HTTP 429 is a :class:`~quantdesk.errors.RateLimitError`; HTTP 5xx and
        network failures are :class:`~quantdesk.errors.RetryableSourceError`;
        each is retried with jittered backoff (``retry_policy``,
        ``retry_clock``). An unknown or delisted symbol or an unsupported
        timeframe is a :class:`~quantdesk.errors.FatalSourceError`. A known
        symbol with no bars in the range (a weekend) gives an empty frame.
    """

    name = "yfinance"
    description = (
        "Yahoo Finance through yfinance: stocks, funds, indices, currencies and crypto "
        "(yfinance:AAPL, yfinance:BTC-USD, yfinance:^GSPC); needs the network"
    )
    timeout: ClassVar[float] = 30.0
    """Seconds yfinance waits for one answer."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry_policy: RetryPolicy | None = None,
        retry_clock: RetryClock | None = None,
    ) -> None:
        super().__init__(settings, retry_policy=retry_policy, retry_clock=retry_clock)
        self._session: requests.Session | None = None
        self._answers: list[_Answer] = []

    def check_request(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> None:
        """Refuse a symbol Yahoo cannot name and a timeframe Yahoo does not offer.

        How far back Yahoo keeps intraday bars is checked when they are
        fetched, so ranges already in the cache still load.

        Raises
        ------
        FatalSourceError
            For a malformed symbol or an unsupported timeframe.
        """
        if "/" in symbol:
            suggestion = symbol.replace("/", "-").upper()
            raise FatalSourceError(
                f"Yahoo writes pairs with a dash: use yfinance:{suggestion}, not yfinance:{symbol}"
            )
        if not _SYMBOL_PATTERN.match(symbol):
            raise FatalSourceError(
                f"{symbol!r} is not a Yahoo symbol; write it as Yahoo does, "
                "e.g. 'AAPL', 'BTC-USD', '^GSPC' or 'EURUSD=X'"
            )
        if timeframe not in YAHOO_INTERVALS:
            supported = ", ".join(str(known) for known in YAHOO_INTERVALS)
            raise FatalSourceError(
                f"Yahoo has no {timeframe} bars; use one of {supported}, "
                "or resample finer bars with quantdesk.resample_ohlcv"
            )

    def settled_before(self, timeframe: Timeframe, now: pd.Timestamp) -> pd.Timestamp:
        """Stock bars start off the epoch grid (:30) and Yahoo revises recent ones: wait."""
        return settled_exchange_bars_before(timeframe, now)

    def cache_symbol(self, symbol: str) -> str:
        """Yahoo's symbols are case-insensitive; the cache names them in upper case."""
        return symbol.upper()

    def adjustment(self, symbol: str) -> str:
        """Yahoo's prices (``auto_adjust=False``) are split-adjusted: ``"split"``."""
        return SPLIT

    def available_range(self, symbol: str, timeframe: Timeframe) -> TimeRange | None:
        """For intraday timeframes, the span Yahoo still keeps; None for daily and longer.

        Returns
        -------
        TimeRange or None
            From the earliest start Yahoo accepts to the end of the bar now forming.
        """
        interval = YAHOO_INTERVALS.get(timeframe)
        if interval is None or interval.kept_days is None:
            return None
        now = _now()
        earliest = _earliest_start(interval, now)
        return TimeRange(earliest, timeframe.shift(timeframe.bar_start(now)))

    def request_windows(self, timeframe: Timeframe, time_range: TimeRange) -> list[TimeRange]:
        """The ranges Yahoo is asked for, in order, to cover ``time_range``.

        Daily requests reach a day beyond each end, since a daily bar's UTC
        stamp and its instant at the exchange fall on different sides of
        midnight; weekly and monthly requests cover whole weeks and months. Nothing is asked past
        the bar now forming. Long 1m ranges are split into 7-day windows.

        Parameters
        ----------
        timeframe
            A supported timeframe.
        time_range
            The bar starts wanted.

        Returns
        -------
        list of TimeRange
            Consecutive, non-overlapping windows; empty when the range lies
            wholly in the future.

        Raises
        ------
        FatalSourceError
            When the range starts before Yahoo's oldest bars at this timeframe.
        """
        interval = YAHOO_INTERVALS[timeframe]
        now = _now()
        start = time_range.start
        end = min(time_range.end, timeframe.shift(now))
        if timeframe in _BUILT_FROM_DAYS:
            starts = timeframe.bucket_starts(np.array([start.value, end.value - 1]))
            start = pd.Timestamp(int(starts[0]), tz="UTC")
            end = timeframe.shift(pd.Timestamp(int(starts[1]), tz="UTC"))
        if interval.daily:
            start, end = start - _DAY, end + _DAY
        if start >= end:
            return []
        if interval.kept_days is not None:
            earliest = _earliest_start(interval, now)
            if start < earliest - _EDGE_MARGIN:
                raise FatalSourceError(
                    f"Yahoo keeps {timeframe} bars for the last {interval.kept_days} days only; "
                    f"ask for a start after {earliest:%Y-%m-%d %H:%M} UTC, "
                    "or use a coarser timeframe"
                )
        if interval.request_days is None:
            return [TimeRange(start, end)]
        step = pd.Timedelta(days=interval.request_days)
        windows = []
        while start < end:
            windows.append(TimeRange(start, min(start + step, end)))
            start += step
        return windows

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        symbol = symbol.upper()
        interval = YAHOO_INTERVALS[timeframe]
        pieces = []
        for window in self.request_windows(timeframe, time_range):
            piece = self.with_retries(
                functools.partial(self._history, symbol, interval, window),
                describe=f"Yahoo {interval.text} bars of {symbol} for {window}",
            )
            pieces.append(_canonical(piece, symbol, interval))
        if not pieces:
            return empty_ohlcv()
        frame = pd.concat(pieces) if len(pieces) > 1 else pieces[0]
        # Windows meet end to start, but Yahoo may repeat a bar on either side of a boundary.
        frame = frame[~frame.index.duplicated(keep="last")].sort_index()
        if timeframe in _BUILT_FROM_DAYS and not frame.empty:
            frame = resample_ohlcv(frame, timeframe, source_timeframe="1d")
        return frame

    def _history(self, symbol: str, interval: YahooInterval, window: TimeRange) -> pd.DataFrame:
        """One attempt at one window: yfinance's frame, or an empty one for a range without bars."""
        import yfinance  # type: ignore[import-untyped]
        from yfinance.data import YfData  # type: ignore[import-untyped]

        session = self._http_session()
        with _yfinance_raising(yfinance):
            # yfinance keeps answers for past ranges in memory, failures included,
            # which would make every retry see the first failure again.
            clear = getattr(getattr(YfData, "cache_get", None), "cache_clear", None)
            if callable(clear):
                clear()
            self._answers.clear()
            try:
                ticker = yfinance.Ticker(symbol, session=session)
                history = ticker.history(
                    start=int(window.start.timestamp()),
                    end=int(window.end.timestamp()),
                    interval=interval.text,
                    prepost=False,
                    actions=False,
                    auto_adjust=False,
                    back_adjust=False,
                    repair=False,
                    keepna=False,
                    timeout=self.timeout,
                )
            except Exception as error:
                failure = self._failure(symbol, interval, error)
                if failure is None:
                    return pd.DataFrame()
                raise failure from None
        if not isinstance(history, pd.DataFrame):
            raise FatalSourceError(
                f"yfinance returned {type(history).__name__} for {symbol}, not a frame; "
                "update yfinance"
            )
        return history

    def _failure(
        self, symbol: str, interval: YahooInterval, error: Exception
    ) -> SourceError | None:
        """The quantdesk error for a failed attempt, or None when the range just has no bars."""
        import requests
        from yfinance import exceptions

        answers = list(self._answers)
        limited = [answer for answer in answers if answer.status == 429]
        if limited or isinstance(error, exceptions.YFRateLimitError):
            retry_after = limited[-1].retry_after if limited else None
            return RateLimitError(
                f"Yahoo is rate-limiting requests (HTTP 429) for {symbol}", retry_after=retry_after
            )
        server_errors = [answer for answer in answers if answer.status >= 500]
        if server_errors:
            return RetryableSourceError(
                f"Yahoo answered HTTP {server_errors[-1].status} for {symbol}"
            )
        refused = [
            answer
            for answer in answers
            if answer.path.startswith("/v8/finance/chart/") and 400 <= answer.status < 500
        ]
        if refused:
            answer = refused[-1]
            detail = provider_message(answer.description or f"HTTP {answer.status}")
            if answer.status == 404:
                return _unknown_symbol(symbol, detail)
            if answer.status in (400, 422):
                return FatalSourceError(
                    f"Yahoo refused {interval.text} bars of {symbol}: {detail}; "
                    "ask for a shorter or more recent range, or a coarser timeframe"
                )
            return RetryableSourceError(f"Yahoo refused access to {symbol}: {detail}")
        if isinstance(error, exceptions.YFTzMissingError):
            return _unknown_symbol(symbol, "Yahoo gave no time zone for it")
        if isinstance(error, exceptions.YFPricesMissingError):
            if error.yahoo_reason is None:
                return None  # a known symbol, and no bars in this range
            reason = provider_message(error.yahoo_reason)
            return FatalSourceError(f"Yahoo has no {interval.text} bars of {symbol}: {reason}")
        if isinstance(error, requests.RequestException | OSError):
            return RetryableSourceError(
                f"network failure talking to Yahoo for {symbol}: {_describe(error)}"
            )
        if isinstance(error, exceptions.YFDataException):
            return RetryableSourceError(
                f"Yahoo is not answering for {symbol}: {provider_message(error)}"
            )
        return FatalSourceError(
            f"yfinance could not read Yahoo's answer for {symbol} ({_describe(error)}); "
            "try updating yfinance"
        )

    def _http_session(self) -> requests.Session:
        if self._session is None:
            import requests

            session = requests.Session()
            session.headers.update(_BROWSER_HEADERS)
            session.hooks["response"].append(self._record)
            self._session = session
        return self._session

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        url = urlsplit(response.url)
        if url.hostname not in _API_HOSTS:
            return
        retry_after = None
        if response.status_code == 429:
            retry_after = retry_after_seconds(response.headers)
        description = None
        if response.status_code >= 400:
            description = _error_description(response)
        self._answers.append(_Answer(url.path, response.status_code, retry_after, description))


def _canonical(history: pd.DataFrame, symbol: str, interval: YahooInterval) -> pd.DataFrame:
    """yfinance's frame as a canonical one: UTC starts, lower-case float columns."""
    if history.empty:
        return empty_ohlcv()
    index = pd.DatetimeIndex(history.index)
    if interval.daily:
        # Exchange-local midnight of the trading date -> that date at 00:00 UTC.
        times = index.tz_localize(None).normalize().tz_localize("UTC")
    else:
        times = index.tz_convert("UTC")
    columns = {
        name: pd.to_numeric(history[name.capitalize()], errors="coerce").to_numpy(np.float64)
        for name in OHLCV_COLUMNS
    }
    frame = pd.DataFrame(columns, index=pd.DatetimeIndex(times.as_unit("ns"), name="time"))
    prices = frame[list(PRICE_COLUMNS)].to_numpy()
    usable = np.isfinite(prices).all(axis=1) & (prices > 0).all(axis=1)
    if not usable.all():
        logger.debug("left out %d bar(s) of %s without prices", int((~usable).sum()), symbol)
        frame = frame[usable]
    frame["volume"] = frame["volume"].fillna(0.0).clip(lower=0.0)
    body_high = frame[["open", "close"]].max(axis=1)
    body_low = frame[["open", "close"]].min(axis=1)
    outside = (frame["high"] < body_high) | (frame["low"] > body_low)
    if outside.any():
        first = frame.index[outside.to_numpy()][0]
        warnings.warn(
            f"Yahoo sent {int(outside.sum())} bar(s) of {symbol} whose high or low did not "
            f"contain the open and close (first at {first.isoformat()}); widened them",
            DataRepairWarning,
            stacklevel=2,
        )
        frame["high"] = np.maximum(frame["high"], body_high)
        frame["low"] = np.minimum(frame["low"], body_low)
    frame = frame[~frame.index.duplicated(keep="last")]
    return frame.sort_index()


@contextmanager
def _yfinance_raising(yfinance: Any) -> Iterator[None]:
    """Hold the lock and make yfinance raise its failures instead of logging them.

    ``hide_exceptions`` replaces ``history(raise_errors=True)``, which yfinance
    1.7 deprecates; it also makes the time-zone lookup raise network errors
    rather than report the symbol as missing.
    """
    with _YFINANCE_LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="yfinance")
        debug = yfinance.config.debug
        hidden = debug.hide_exceptions
        debug.hide_exceptions = False
        try:
            yield
        finally:
            debug.hide_exceptions = hidden


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").as_unit("ns")


def _earliest_start(interval: YahooInterval, now: pd.Timestamp) -> pd.Timestamp:
    """The earliest start to ask Yahoo for, safely inside what it keeps."""
    kept = pd.Timedelta(days=interval.kept_days or 0)
    return (now - kept + 2 * _EDGE_MARGIN).ceil("min")


def _unknown_symbol(symbol: str, detail: str) -> FatalSourceError:
    return FatalSourceError(
        f"Yahoo does not know symbol {symbol!r} ({detail}); check it on finance.yahoo.com, "
        "e.g. 'AAPL', 'BTC-USD' or '^GSPC'"
    )


def _error_description(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    for part in body.values():
        if isinstance(part, dict) and isinstance(part.get("error"), dict):
            description = part["error"].get("description")
            return str(description) if description else None
    return None


def _describe(error: BaseException) -> str:
    text = provider_message(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
