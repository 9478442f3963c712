"""A fake of Alpaca's market data API in its real wire format, served through ``responses``.

It answers what alpaca-py's historical data clients request:

- ``GET /v2/stocks/bars`` and ``GET /v1beta3/crypto/us/bars`` with the query
  parameters ``symbols``, ``timeframe``, ``start`` and ``end`` (RFC-3339 or a
  date, both inclusive), ``limit`` (1 to 10,000), ``page_token``, and for
  stocks ``feed`` and ``adjustment``; the answer is
  ``{"bars": {SYMBOL: [{"t", "o", "h", "l", "c", "v", "n", "vw"}, ...]},
  "next_page_token": ...}``. Symbols without bars in the range are left out of
  the map, as Alpaca does for unknown symbols too.
- ``GET /v2/stocks/bars/latest`` and ``GET /v1beta3/crypto/us/latest/bars``:
  ``{"bars": {SYMBOL: {...}}}`` for the symbols it has bars for.

Stock bars are held as traded; corporate actions added with :meth:`FakeAlpaca.split`
and :meth:`FakeAlpaca.dividend` restate the bars before their ex-date as
Alpaca does for ``adjustment=split``, ``dividend`` or ``all`` (``raw`` leaves
them alone): prices times the action's price factor, volume divided by it.

Stock endpoints want the ``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY``
headers (401 without them, 403 for a wrong pair, bodies as Alpaca's); crypto
endpoints want none. Errors use Alpaca's JSON bodies, e.g.
``{"code": 42210000, "message": "invalid timeframe"}``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import requests
import responses

DATA_URL = "https://data.alpaca.markets"
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000
_TIMEFRAME = re.compile(r"^([1-9][0-9]?)(Min|T|Hour|H|Day|D|Week|W|Month|M)$")
_SYMBOL = re.compile(r"^[A-Z0-9.\-]+(/[A-Z0-9.\-]+)?$")
_STOCK_FEEDS = {"iex", "sip", "delayed_sip", "otc", "boats", "overnight"}
_ADJUSTMENTS = {"raw", "split", "dividend", "all"}


@dataclass
class Failure:
    """A scripted answer served instead of the next matching request."""

    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None


@dataclass(frozen=True)
class CorporateAction:
    """A split or dividend: bars of ``symbol`` before ``ex_date`` get ``price_factor``."""

    symbol: str
    kind: str
    ex_date: pd.Timestamp
    price_factor: float


_ADJUSTED_KINDS = {
    "raw": set(),
    "split": {"split"},
    "dividend": {"dividend"},
    "all": {"split", "dividend"},
}


@dataclass
class SeenRequest:
    """One request the fake received, as sent."""

    path: str
    parameters: dict[str, str]
    headers: dict[str, str]


class FakeAlpaca:
    """Alpaca's market data API on top of a ``responses.RequestsMock``.

    Parameters
    ----------
    mock
        The active mock the endpoints are registered with.
    key_id, secret
        The credentials stock endpoints accept.
    page_size
        The most bars one page holds, whatever ``limit`` asks (Alpaca may
        return fewer than ``limit``).
    overlap
        How many bars of the previous page a followed page token repeats.
    """

    def __init__(
        self,
        mock: responses.RequestsMock,
        *,
        key_id: str,
        secret: str,
        page_size: int = MAX_LIMIT,
        overlap: int = 0,
    ) -> None:
        self.key_id = key_id
        self.secret = secret
        self.page_size = page_size
        self.overlap = overlap
        self.bars: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.failures: list[Failure] = []
        self.seen: list[SeenRequest] = []
        self.actions: list[CorporateAction] = []
        bars_path = re.compile(
            rf"^{re.escape(DATA_URL)}/(v2/stocks|v1beta3/crypto/us)/bars(\?.*)?$"
        )
        latest_path = re.compile(
            rf"^{re.escape(DATA_URL)}/(v2/stocks/bars/latest|v1beta3/crypto/us/latest/bars)(\?.*)?$"
        )
        mock.add_callback(responses.GET, latest_path, callback=self._answer_latest)
        mock.add_callback(responses.GET, bars_path, callback=self._answer_bars)

    def add_bars(self, symbol: str, timeframe: str, bars: Iterable[dict[str, Any]]) -> None:
        """Hold ``bars`` (Alpaca bar objects) for ``symbol`` in ``timeframe`` (e.g. ``"1Hour"``)."""
        held = self.bars.setdefault((symbol, timeframe), [])
        held.extend(bars)
        held.sort(key=lambda bar: bar["t"])

    def split(self, symbol: str, ex_date: str, ratio: float) -> None:
        """A ``ratio``-for-one split of ``symbol`` effective at ``ex_date``."""
        self.actions.append(CorporateAction(symbol, "split", _time(ex_date), 1.0 / ratio))

    def dividend(self, symbol: str, ex_date: str, price_factor: float) -> None:
        """A dividend of ``symbol``: earlier prices are multiplied by ``price_factor`` (< 1)."""
        self.actions.append(CorporateAction(symbol, "dividend", _time(ex_date), price_factor))

    def fail(self, *failures: Failure) -> None:
        """Serve these answers, in order, to the next bars requests."""
        self.failures.extend(failures)

    def bars_requests(self) -> list[SeenRequest]:
        """The historical bars requests received, failed ones included."""
        return [seen for seen in self.seen if seen.path.endswith("/bars")]

    def latest_requests(self) -> list[SeenRequest]:
        """The latest-bar requests received."""
        return [seen for seen in self.seen if "latest" in seen.path]

    def _record(self, request: requests.PreparedRequest) -> SeenRequest:
        parts = urlsplit(str(request.url))
        parameters = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        seen = SeenRequest(parts.path, parameters, dict(request.headers))
        self.seen.append(seen)
        return seen

    def _refusal(self, seen: SeenRequest) -> tuple[int, dict[str, str], str] | None:
        if "/stocks/" not in seen.path:
            return None
        key_id = seen.headers.get("APCA-API-KEY-ID")
        secret = seen.headers.get("APCA-API-SECRET-KEY")
        if not key_id or not secret:
            return _error(401, "unauthorized.")
        if (key_id, secret) != (self.key_id, self.secret):
            return _error(403, "forbidden.")
        return None

    def _answer_bars(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        seen = self._record(request)
        if self.failures:
            failure = self.failures.pop(0)
            if failure.error is not None:
                raise failure.error
            return failure.status, failure.headers, json.dumps(failure.body)
        refusal = self._refusal(seen)
        if refusal is not None:
            return refusal
        query = seen.parameters
        symbols = query.get("symbols", "").split(",")
        if not symbols or not all(_SYMBOL.match(symbol) for symbol in symbols):
            return _error(400, f"invalid symbol: {query.get('symbols', '')}", code=40010001)
        timeframe = query.get("timeframe", "")
        if not _TIMEFRAME.match(timeframe):
            return _error(422, "invalid timeframe", code=42210000)
        if "/stocks/" in seen.path:
            if query.get("feed", "sip") not in _STOCK_FEEDS:
                return _error(422, "invalid feed", code=42210000)
            if query.get("adjustment", "raw") not in _ADJUSTMENTS:
                return _error(422, "invalid adjustment", code=42210000)
        limit = int(query.get("limit", DEFAULT_LIMIT))
        if not 1 <= limit <= MAX_LIMIT:
            return _error(422, "invalid limit: must be between 1 and 10000", code=42210000)
        start = _time(query.get("start", "1970-01-01"))
        end = _time(query["end"]) if "end" in query else pd.Timestamp.now(tz="UTC")
        selected = [
            (symbol, bar)
            for symbol in sorted(symbols)
            for bar in self.bars.get((symbol, timeframe), [])
            if start <= _time(bar["t"]) <= end
        ]
        first = 0
        if "page_token" in query:
            symbol, time = base64.b64decode(query["page_token"]).decode().split("|")
            first = next(
                index
                for index, (held_symbol, bar) in enumerate(selected)
                if (held_symbol, bar["t"]) == (symbol, time)
            )
            first = max(0, first - self.overlap)
        size = min(limit, self.page_size)
        page = selected[first : first + size]
        following = selected[first + size] if first + size < len(selected) else None
        kinds = (
            _ADJUSTED_KINDS[query.get("adjustment", "raw")] if "/stocks/" in seen.path else set()
        )
        grouped: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in page:
            grouped.setdefault(symbol, []).append(self._adjusted(symbol, bar, kinds))
        token = (
            None
            if following is None
            else base64.b64encode(f"{following[0]}|{following[1]['t']}".encode()).decode()
        )
        return _json(200, {"bars": grouped, "next_page_token": token})

    def _adjusted(self, symbol: str, bar: dict[str, Any], kinds: set[str]) -> dict[str, Any]:
        factor = 1.0
        for action in self.actions:
            if (
                action.symbol == symbol
                and action.kind in kinds
                and _time(bar["t"]) < action.ex_date
            ):
                factor *= action.price_factor
        if factor == 1.0:
            return bar
        prices = {name: bar[name] * factor for name in ("o", "h", "l", "c", "vw")}
        return {**bar, **prices, "v": bar["v"] / factor}

    def _answer_latest(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        seen = self._record(request)
        refusal = self._refusal(seen)
        if refusal is not None:
            return refusal
        symbols = seen.parameters.get("symbols", "").split(",")
        latest: dict[str, dict[str, Any]] = {}
        for symbol in symbols:
            held = [bar for (name, _), bars in self.bars.items() if name == symbol for bar in bars]
            if held:
                latest[symbol] = max(held, key=lambda bar: bar["t"])
        return _json(200, {"bars": latest})


def bar(time: str | pd.Timestamp, price: float, volume: float = 100.0) -> dict[str, Any]:
    """An Alpaca bar object starting at ``time`` around ``price``.

    Parameters
    ----------
    time
        The bar start; written as Alpaca writes it, ``2024-01-02T14:30:00Z``.
    price
        The open; the high is one more, the low one less, the close a half more.
    volume
        The volume (shares or coins).
    """
    stamp = pd.Timestamp(time)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return {
        "t": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "o": price,
        "h": price + 1.0,
        "l": price - 1.0,
        "c": price + 0.5,
        "v": volume,
        "n": 12,
        "vw": price + 0.25,
    }


def bar_series(
    start: str, count: int, step: str, *, first_price: float = 100.0, skip: Iterable[int] = ()
) -> list[dict[str, Any]]:
    """``count`` consecutive bars from ``start`` every ``step`` (e.g. ``"1h"``), minus ``skip``."""
    skipped = set(skip)
    times = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=count, freq=step)
    return [
        bar(time, first_price + position, volume=10.0 + position)
        for position, time in enumerate(times)
        if position not in skipped
    ]


def _time(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _json(status: int, payload: Any) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": "application/json"}, json.dumps(payload)


def _error(
    status: int, message: str, *, code: int | None = None
) -> tuple[int, dict[str, str], str]:
    body: dict[str, Any] = (
        {"message": message} if code is None else {"code": code, "message": message}
    )
    return _json(status, body)
