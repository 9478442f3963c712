"""OHLCV candles from any exchange ccxt supports: ``ccxt:EXCHANGE:SYMBOL``.

The symbol part names a ccxt exchange id and a market in ccxt's unified
notation, e.g. ``ccxt:binance:BTC/USDT`` or ``ccxt:kraken:ETH/EUR``;
derivatives carry their settle currency, ``ccxt:binance:BTC/USDT:USDT``.
ccxt itself is imported on first use, so ``import quantdesk`` stays fast.
"""

from __future__ import annotations

import difflib
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.frame import OHLCV_COLUMNS, empty_ohlcv, validate_ohlcv
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.credentials import (
    ENVIRONMENT_LABEL,
    ApiKey,
    environment_api_key,
    find_api_key,
)
from quantdesk.data.provider_errors import provider_message, retry_after_seconds, without_secrets
from quantdesk.data.retry import RetryClock, RetryPolicy
from quantdesk.data.source import RemoteSource
from quantdesk.errors import (
    DataValidationError,
    FatalSourceError,
    RateLimitError,
    RetryableSourceError,
    SourceError,
    describe_miss,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)

_NANOSECONDS_PER_MILLISECOND = 1_000_000
_SHORTEST_MONTH_MILLISECONDS = 28 * 86_400_000
# ccxt logs every request's headers at DEBUG, an API key among them for signed
# calls; its exchanges log here instead, a logger outside the hierarchy that
# drops everything below WARNING, so no configuration can route a key to a log.
_WIRE_LOGGER = logging.Logger("quantdesk.ccxt.wire", logging.WARNING)


def _ccxt() -> Any:
    import ccxt  # type: ignore[import-untyped]

    return ccxt


class CcxtSource(RemoteSource):
    """Candles from a crypto exchange through ccxt's unified ``fetch_ohlcv``.

    What the bars mean:

    - times are the candles' open times as the exchange reports them, UTC
      epoch milliseconds turned into the canonical UTC index;
    - ``open``, ``high``, ``low`` and ``close`` are traded prices in the
      market's quote currency (USDT for ``BTC/USDT``), raw: nothing is
      adjusted;
    - ``volume`` is traded quantity in the base currency (BTC for
      ``BTC/USDT``); for contract markets it is what the exchange reports,
      often contracts.

    Requests go through the synchronous ccxt client with its own rate
    limiter on, and page with ``since`` and the exchange's largest ``limit``,
    advancing past the last candle received, until the range ends; candles
    repeated by overlapping pages are kept once. An empty page does not end
    paging: some exchanges answer only within ``[since, since + limit *
    step]``, so the next page starts a page's span further on, until the
    range ends. Missing candles (an exchange outage) stay missing. Network
    failures and rate limits are retried with backoff
    (:attr:`retry_policy`), then raised as
    :class:`~quantdesk.errors.RetryableSourceError`; an unknown exchange,
    symbol or timeframe and refused credentials raise
    :class:`~quantdesk.errors.FatalSourceError`.

    Public candles need no key, so the vault is not asked for one: every
    vault lookup writes an audit row, and most users fetching candles store
    no key. A key in the environment (``BINANCE_API_KEY`` and
    ``BINANCE_API_SECRET`` for ``binance``) is handed to ccxt from the
    start. Only when the exchange refuses a request made without a key (an
    exchange whose candles need one) is the vault asked, once per exchange
    and source, for the key stored with ``quantdesk keys add binance``, and
    the request is sent again with it. A key is never logged, and ccxt's
    request log is muted so it cannot be either.
    For spot symbols only the exchange's spot markets are loaded, where ccxt
    can be told so.

    The candle still forming is returned like the others; the loader keeps
    it out of the cache. Timeframes map to the exchange's own candles, not
    resampled. Candles that open off quantdesk's bar boundaries (weekly ones
    on Thursdays, say) are kept as sent, with a warning, except one still
    forming, which the loader could not tell from a settled bar.

    Parameters
    ----------
    settings
        The settings in effect.
    retry_policy
        How to retry passing failures; the class attribute when None.
    retry_clock
        How to wait between retries; the class attribute (real time) when None.
    """

    name = "ccxt"
    description = "crypto exchanges through ccxt (ccxt:EXCHANGE:SYMBOL, e.g. ccxt:binance:BTC/USDT)"

    def __init__(
        self,
        settings: Settings,
        *,
        retry_policy: RetryPolicy | None = None,
        retry_clock: RetryClock | None = None,
    ) -> None:
        super().__init__(settings, retry_policy=retry_policy, retry_clock=retry_clock)
        self._exchanges: dict[tuple[str, bool], Any] = {}
        self._credentials: dict[str, ApiKey | None] = {}
        self._vault_asked: set[str] = set()

    def check_request(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> None:
        """Refuse an unknown exchange or a timeframe the exchange has no candles for.

        Both checks use what ccxt knows without asking the exchange, so a
        cache hit makes no request; the symbol is checked against the
        exchange's markets when candles are fetched.

        Raises
        ------
        FatalSourceError
            For a symbol part that is not ``EXCHANGE:SYMBOL``, an exchange id
            ccxt does not know (naming close matches), or a timeframe the
            exchange does not offer (listing those it does).
        """
        exchange_id, market = _split(symbol)
        self._exchange_timeframe(self._exchange(exchange_id, derivatives=":" in market), timeframe)

    def cache_symbol(self, symbol: str) -> str:
        """``EXCHANGE:SYMBOL``, exchange id in lower case: each exchange has its own series.

        Returns
        -------
        str
            For example ``"binance:BTC/USDT"``.
        """
        exchange_id, market = _split(symbol)
        return f"{exchange_id}:{market}"

    def exchange_symbols(self, exchange_id: str, *, derivatives: bool = False) -> list[str]:
        """The markets an exchange offers, in ccxt's unified notation.

        Parameters
        ----------
        exchange_id
            A ccxt exchange id such as ``"binance"``.
        derivatives
            Also load swaps, futures and options where the exchange would
            otherwise be asked for its spot markets only.

        Returns
        -------
        list of str
            Sorted symbols such as ``"BTC/USDT"``; this asks the exchange.
        """
        exchange = self._exchange(exchange_id.strip().lower(), derivatives=derivatives)
        self._load_markets(exchange)
        return sorted(exchange.symbols)

    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        exchange_id, market = _split(symbol)
        exchange = self._exchange(exchange_id, derivatives=":" in market)
        exchange_timeframe = self._exchange_timeframe(exchange, timeframe)
        self._load_markets(exchange)
        self._check_market(exchange, market)
        step = _shortest_step_milliseconds(timeframe)
        start = _milliseconds(time_range.start)
        end = _milliseconds(time_range.end)
        page_limit = _page_limit(exchange, market)
        # No candle opens after now, so a range reaching into the future ends there.
        last_open = min(end - 1, _milliseconds(pd.Timestamp.now(tz="UTC")))
        candles: dict[int, Sequence[Any]] = {}
        cursor = start
        full_pages = False
        pages = 0
        while cursor <= last_open:
            wanted = (last_open - cursor) // step + 1
            limit = wanted if page_limit is None else min(page_limit, wanted)
            if full_pages and page_limit is not None:
                limit = page_limit
            fetch_page = functools.partial(
                exchange.fetch_ohlcv, market, exchange_timeframe, since=cursor, limit=limit
            )
            describe = (
                f"ccxt {exchange_id} {market} {timeframe} candles from "
                f"{pd.Timestamp(cursor, unit='ms', tz='UTC').isoformat()}"
            )
            page: list[Sequence[Any]] = self._call(exchange, fetch_page, describe)
            pages += 1
            fresh = [candle for candle in page if int(candle[0]) >= cursor]
            if not fresh:
                if page_limit is not None and limit < page_limit:
                    # Some exchanges fill a page with candles from before ``since``,
                    # which ccxt drops: only a full page tells the range has ended.
                    full_pages = True
                    continue
                # Some exchanges answer only within [since, since + limit * step]:
                # an empty page is an outage or a stretch before the listing, and
                # the candles after it lie further on.
                cursor += limit * step
                continue
            for candle in fresh:
                if int(candle[0]) < end:
                    candles[int(candle[0])] = candle
            cursor = max(int(candle[0]) for candle in fresh) + step
        logger.info(
            "ccxt %s %s %s %s: %d candles in %d request(s)",
            exchange_id,
            market,
            timeframe,
            time_range,
            len(candles),
            pages,
        )
        if not candles:
            return empty_ohlcv()
        return _to_frame(candles, exchange_id, market, timeframe)

    # exchanges

    def _exchange(self, exchange_id: str, *, derivatives: bool) -> Any:
        ccxt = _ccxt()
        if exchange_id not in ccxt.exchanges:
            raise FatalSourceError(_unknown_exchange(exchange_id, ccxt.exchanges))
        key = (exchange_id, derivatives)
        if key not in self._exchanges:
            exchange = getattr(ccxt, exchange_id)({"enableRateLimit": True})
            exchange.logger = _WIRE_LOGGER
            options = exchange.options
            fetch_markets = options.get("fetchMarkets")
            if (
                not derivatives
                and isinstance(fetch_markets, dict)
                and isinstance(fetch_markets.get("types"), list)
                and "spot" in fetch_markets["types"]
            ):
                options["fetchMarkets"] = {**fetch_markets, "types": ["spot"]}
            for option in ("fetchCurrencies", "fetchMargins"):
                # Binance asks signed endpoints for these when it has a key; candles need neither.
                if isinstance(options.get(option), bool):
                    options[option] = False
            self._exchanges[key] = exchange
        return self._exchanges[key]

    def _exchange_timeframe(self, exchange: Any, timeframe: Timeframe) -> str:
        offered = exchange.timeframes or {}
        if not exchange.has.get("fetchOHLCV") or not offered:
            raise FatalSourceError(
                f"ccxt's {exchange.id} offers no candles (no fetchOHLCV); "
                "pick an exchange that does, such as binance, kraken or coinbase"
            )
        if timeframe.is_calendar_month:
            if "1M" in offered:
                return "1M"
            raise FatalSourceError(
                f"{exchange.id} has no 1M candles; ask for 1d and "
                "resample_ohlcv(frame, '1M', source_timeframe='1d')"
            )
        matching: dict[int, str] = {}
        for text in offered:
            try:
                seconds = int(exchange.parse_timeframe(text))
            except (ValueError, TypeError, KeyError):
                continue
            matching.setdefault(seconds, text)
        if timeframe.seconds in matching:
            return matching[timeframe.seconds]
        usable = [
            Timeframe(seconds).text
            for seconds in sorted(matching)
            if Timeframe.MINIMUM_SECONDS <= seconds <= Timeframe.MAXIMUM_SECONDS
            and seconds % 60 == 0
        ]
        if "1M" in offered:
            usable.append("1M")
        raise FatalSourceError(
            f"{exchange.id} has no {timeframe} candles; ask for one of {', '.join(usable)}"
            + (" and resample" if usable else "")
        )

    def _load_markets(self, exchange: Any) -> None:
        if exchange.markets:
            return
        self._attach_credentials(exchange)
        self._call(exchange, exchange.load_markets, f"ccxt {exchange.id}: loading its markets")

    def _check_market(self, exchange: Any, market: str) -> None:
        if market in exchange.markets:
            return
        symbols = list(exchange.symbols)
        near = [
            candidate
            for candidate in symbols
            if candidate.upper() == market.upper() or candidate.replace("/", "") == market.upper()
        ]
        by_id = exchange.markets_by_id.get(market) if exchange.markets_by_id else None
        if by_id:
            near.extend(entry["symbol"] for entry in by_id if entry["symbol"] not in near)
        near.extend(
            candidate
            for candidate in difflib.get_close_matches(market, symbols, n=3, cutoff=0.6)
            if candidate not in near
        )
        if near:
            suggestion = " or ".join(repr(candidate) for candidate in near[:3])
            raise FatalSourceError(
                f"unknown {exchange.id} symbol {market!r}; did you mean {suggestion}?"
            )
        raise FatalSourceError(
            f"unknown {exchange.id} symbol {market!r}; {_symbols_hint(exchange.id)}"
        )

    def _attach_credentials(self, exchange: Any) -> None:
        """Hand ccxt a key from the environment, if there is one; the vault is not asked."""
        exchange_id = exchange.id
        if exchange_id not in self._credentials:
            self._credentials[exchange_id] = environment_api_key(
                exchange_id, environment=_environment(exchange_id)
            )
        key = self._credentials[exchange_id]
        if key is not None:
            exchange.apiKey = key.key_id
            exchange.secret = key.secret

    def _attach_stored_key(self, exchange: Any) -> bool:
        """After a refusal without a key, hand ccxt the stored one; True when there is one."""
        if exchange.apiKey:
            return False
        exchange_id = exchange.id
        if exchange_id not in self._vault_asked:
            self._credentials[exchange_id] = find_api_key(
                exchange_id, self.settings, environment=_environment(exchange_id)
            )
            self._vault_asked.add(exchange_id)
        key = self._credentials.get(exchange_id)
        if key is None:
            return False
        exchange.apiKey = key.key_id
        exchange.secret = key.secret
        return True

    # errors

    def _call(self, exchange: Any, operation: Callable[[], T], describe: str) -> T:
        ccxt = _ccxt()

        def attempt() -> T:
            failure: SourceError | None = None
            refused = False
            try:
                return operation()
            except ccxt.BaseError as error:
                failure = self._translated(error, exchange)
                refused = isinstance(error, ccxt.AuthenticationError)
            # Raised outside the handler: ccxt's error quotes the request URL with
            # its signature (and on some exchanges the key id), so it must not ride
            # along as __cause__ or __context__.
            if refused and self._attach_stored_key(exchange):
                return attempt()
            raise failure

        return self.with_retries(attempt, describe=describe)

    def _translated(self, error: Exception, exchange: Any) -> SourceError:
        ccxt = _ccxt()
        exchange_id = exchange.id
        detail = provider_message(without_secrets(str(error), self._credentials.get(exchange_id)))
        if isinstance(error, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            headers = getattr(exchange, "last_response_headers", None)
            return RateLimitError(
                f"{exchange_id} asks to slow down: {detail}",
                retry_after=retry_after_seconds(headers),
            )
        if isinstance(error, ccxt.NetworkError):
            return RetryableSourceError(f"{exchange_id} could not be reached: {detail}")
        if isinstance(error, ccxt.BadSymbol):
            return FatalSourceError(
                f"{exchange_id} does not serve this symbol ({detail}); {_symbols_hint(exchange_id)}"
            )
        if isinstance(error, ccxt.AuthenticationError):
            key = self._credentials.get(exchange_id)
            key_variable, secret_variable = _environment(exchange_id)
            if key is None:
                fix = f"store a key with 'quantdesk keys add {exchange_id}'"
            elif key.label == ENVIRONMENT_LABEL:
                fix = f"check {key_variable} and {secret_variable}"
            else:
                fix = f"store a working key with 'quantdesk keys add {exchange_id}'"
            return FatalSourceError(f"{exchange_id} refused the request ({detail}); {fix}")
        if isinstance(error, ccxt.OperationFailed):
            return RetryableSourceError(f"{exchange_id} sent an unusable answer: {detail}")
        return FatalSourceError(f"{exchange_id} refused the request: {detail}")


def _split(symbol: str) -> tuple[str, str]:
    exchange_id, separator, market = symbol.partition(":")
    exchange_id, market = exchange_id.strip().lower(), market.strip()
    if not separator or not exchange_id or not market:
        raise FatalSourceError(
            f"cannot read ccxt address 'ccxt:{symbol}'; "
            "write ccxt:EXCHANGE:SYMBOL, e.g. 'ccxt:binance:BTC/USDT'"
        )
    return exchange_id, market


def _environment(exchange_id: str) -> tuple[str, str]:
    return f"{exchange_id.upper()}_API_KEY", f"{exchange_id.upper()}_API_SECRET"


def _unknown_exchange(exchange_id: str, known: Sequence[str]) -> str:
    if difflib.get_close_matches(exchange_id, known, n=3, cutoff=0.6):
        return describe_miss("ccxt exchange", exchange_id, known)
    return (
        f"unknown ccxt exchange {exchange_id!r}; use a ccxt exchange id such as "
        "binance, kraken or coinbase (ccxt.exchanges lists all of them)"
    )


def _symbols_hint(exchange_id: str) -> str:
    return (
        "ccxt writes spot markets as BASE/QUOTE, e.g. 'BTC/USDT', and swaps as "
        f"BASE/QUOTE:SETTLE; CcxtSource(settings).exchange_symbols({exchange_id!r}) lists them"
    )


def _milliseconds(time: pd.Timestamp) -> int:
    return -(-int(time.value) // _NANOSECONDS_PER_MILLISECOND)


def _page_limit(exchange: Any, market: str) -> int | None:
    try:
        limit = exchange.feature_value(market, "fetchOHLCV", "limit")
    except _ccxt().BaseError:
        return None
    return int(limit) if isinstance(limit, int | float) and limit >= 1 else None


def _shortest_step_milliseconds(timeframe: Timeframe) -> int:
    """How far apart two candles open at the least: 28 days for ``1M``."""
    if timeframe.is_calendar_month:
        return _SHORTEST_MONTH_MILLISECONDS
    return timeframe.seconds * 1000


def _to_frame(
    candles: dict[int, Sequence[Any]], exchange_id: str, market: str, timeframe: Timeframe
) -> pd.DataFrame:
    opens = np.array(sorted(candles), dtype=np.int64)
    values = np.array(
        [[candles[int(open_time)][column] for column in range(1, 6)] for open_time in opens],
        dtype=np.float64,
    )
    times = opens * _NANOSECONDS_PER_MILLISECOND
    misaligned = times != timeframe.bucket_starts(times)
    if misaligned.any():
        # The loader tells settled bars from forming ones by quantdesk's boundaries,
        # so an off-boundary candle that has not closed yet is left out.
        now = pd.Timestamp.now(tz="UTC").value
        open_and_off = misaligned & (timeframe.shift_nanoseconds(times) > now)
        logger.warning(
            "ccxt %s %s %s: %d candle(s) open off quantdesk's %s boundaries, e.g. at %s; "
            "kept as the exchange sent them%s",
            exchange_id,
            market,
            timeframe,
            int(misaligned.sum()),
            timeframe,
            pd.Timestamp(int(times[misaligned][0]), tz="UTC"),
            ", except one still forming" if open_and_off.any() else "",
        )
        times, values = times[~open_and_off], values[~open_and_off]
        if not len(times):
            return empty_ohlcv()
    index = pd.DatetimeIndex(pd.to_datetime(times, unit="ns", utc=True), name="time")
    frame = pd.DataFrame(values, index=index, columns=list(OHLCV_COLUMNS))
    try:
        return validate_ohlcv(frame)
    except DataValidationError as error:
        raise FatalSourceError(f"{exchange_id} {market} {timeframe}: {error}") from None
