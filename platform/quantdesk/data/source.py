"""One interface for every source of OHLCV bars, addressed as ``SOURCE:SYMBOL``.

Sources are discovered through the entry-point group ``quantdesk.sources``,
so another package adds one by declaring, in its ``pyproject.toml``::

    [project.entry-points."quantdesk.sources"]
    mysource = "mypackage.module:MySource"

Each source follows the same template: the public :meth:`DataSource.fetch`
checks the request, calls the source's own ``_fetch``, validates the frame it
returns and trims it to the requested range. A source implements ``_fetch``
and nothing else, unless it wants to list its symbols, refuse timeframes or
declare that its provider adjusts prices (:meth:`DataSource.adjustment`).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import ClassVar, TypeVar

import pandas as pd

from quantdesk.config import Settings
from quantdesk.core.frame import empty_ohlcv, validate_ohlcv
from quantdesk.core.time_range import TimeRange
from quantdesk.core.timeframe import Timeframe
from quantdesk.data.adjustment import NONE
from quantdesk.data.retry import RetryClock, RetryPolicy, call_with_retries
from quantdesk.errors import FatalSourceError, InvalidInputError, UnknownNameError

T = TypeVar("T")

ENTRY_POINT_GROUP = "quantdesk.sources"


@dataclass(frozen=True)
class SourceAddress:
    """Where bars come from: a source name and a symbol within it.

    The text form is ``SOURCE:SYMBOL``; the symbol is everything after the
    first colon, so ``ccxt:binance:BTC/USDT`` names source ``ccxt`` and
    symbol ``binance:BTC/USDT``.
    """

    source: str
    symbol: str

    @classmethod
    def parse(cls, text: str | SourceAddress) -> SourceAddress:
        """Split ``SOURCE:SYMBOL`` text into its parts.

        Parameters
        ----------
        text
            For example ``"sample:BTC/USDT"`` or ``"csv:data/goog.csv"``.

        Returns
        -------
        SourceAddress
            The parsed address.
        """
        if isinstance(text, SourceAddress):
            return text
        if not isinstance(text, str):
            raise InvalidInputError(
                f"a data address is text such as 'sample:BTC/USDT', got {type(text).__name__}"
            )
        source, separator, symbol = text.strip().partition(":")
        if not separator or not source or not symbol.strip():
            raise InvalidInputError(
                f"cannot read data address {text!r}; write SOURCE:SYMBOL, e.g. 'sample:BTC/USDT'"
            )
        return cls(source.strip().lower(), symbol.strip())

    def __str__(self) -> str:
        return f"{self.source}:{self.symbol}"


class DataSource(ABC):
    """A provider of OHLCV bars.

    Subclasses set :attr:`name` and :attr:`description`, implement
    :meth:`_fetch`, and may override :meth:`symbols`,
    :meth:`check_request`, :meth:`adjustment` and :attr:`cacheable`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    cacheable: ClassVar[bool] = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def fetch(self, symbol: str, timeframe: Timeframe | str, time_range: TimeRange) -> pd.DataFrame:
        """Return the bars of ``symbol`` whose start lies in ``time_range``.

        Parameters
        ----------
        symbol
            The symbol as this source names it.
        timeframe
            The bar length.
        time_range
            The half-open range ``[start, end)`` of bar start times.

        Returns
        -------
        pandas.DataFrame
            A canonical OHLCV frame; it may be empty when the range holds no
            bars (a weekend, say).
        """
        timeframe = Timeframe.parse(timeframe)
        self.check_request(symbol, timeframe, time_range)
        frame = self._fetch(symbol, timeframe, time_range)
        if frame.empty:
            return empty_ohlcv()
        frame = validate_ohlcv(frame, allow_empty=True)
        index = frame.index
        return frame[(index >= time_range.start) & (index < time_range.end)]

    def check_request(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> None:
        """Refuse a request this source can never serve; the default accepts all.

        Raises
        ------
        FatalSourceError
            For an unknown symbol, an unsupported timeframe or a range outside
            what the source holds.
        """
        known = self.symbols()
        if known and symbol not in known:
            raise FatalSourceError(UnknownNameError(f"{self.name} symbol", symbol, known).args[0])

    def symbols(self) -> Sequence[str]:
        """The symbols this source offers, or an empty sequence when it cannot list them."""
        return ()

    def available_range(self, symbol: str, timeframe: Timeframe) -> TimeRange | None:
        """The span this source holds for ``symbol``, or None when it cannot tell.

        The loader uses it to fill in a start or end the caller left out.
        """
        return None

    def native_timeframe(self, symbol: str) -> Timeframe | None:
        """The one timeframe ``symbol`` comes in, for sources that hold just one.

        The loader uses it when a load names no timeframe; None means the
        settings' default applies.
        """
        return None

    def settled_before(self, timeframe: Timeframe, now: pd.Timestamp) -> pd.Timestamp:
        """Bars starting before this time are final and may be cached.

        The default suits bars aligned to the epoch grid that are final when
        they end: the start of the bar ``now`` falls in. Sources whose bars
        start off the grid (a stock's hourly bars at :30) or are revised after
        they end (late trades, daily bars restamped to 00:00 UTC) override it.

        Parameters
        ----------
        timeframe
            The bar length.
        now
            The current time (UTC).

        Returns
        -------
        pandas.Timestamp
            The cut-off; the loader never stores a bar starting at or after it.
        """
        return timeframe.bar_start(now)

    def cache_symbol(self, symbol: str) -> str:
        """The symbol as it is named in the cache; sources may normalise it."""
        return symbol

    def adjustment(self, symbol: str) -> str:
        """The adjustment basis of the prices this source returns for ``symbol``.

        The default, ``"none"``, says the source never restates its history.
        A source whose provider adjusts prices for splits or dividends returns
        ``"split"``, ``"dividend"`` or ``"all"`` (``"raw"`` for unadjusted
        stock prices), so the loader checks a cached bar before it extends the
        series; see :mod:`quantdesk.data.adjustment`.

        Parameters
        ----------
        symbol
            The symbol as this source names it.

        Returns
        -------
        str
            One of :data:`~quantdesk.data.adjustment.ADJUSTMENT_BASES`.
        """
        return NONE

    @abstractmethod
    def _fetch(self, symbol: str, timeframe: Timeframe, time_range: TimeRange) -> pd.DataFrame:
        """Produce the bars for a request that :meth:`check_request` accepted."""


class RemoteSource(DataSource):
    """A source that asks a provider over the network; every adapter retries the same way.

    Passing failures (:class:`~quantdesk.errors.RetryableSourceError`) are
    retried with :attr:`retry_policy`; fatal ones are raised at once. Tests
    pass a :class:`~quantdesk.data.retry.RetryClock` that records the waits.

    Parameters
    ----------
    settings
        The settings in effect.
    retry_policy, retry_clock
        Override the class attributes of the same names for this instance.
    """

    retry_policy: ClassVar[RetryPolicy] = RetryPolicy()
    """How often and how long to retry a rate limit or a passing failure."""
    retry_clock: ClassVar[RetryClock | None] = None
    """How to wait between retries; None waits in real time."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry_policy: RetryPolicy | None = None,
        retry_clock: RetryClock | None = None,
    ) -> None:
        super().__init__(settings)
        self.policy = retry_policy if retry_policy is not None else type(self).retry_policy
        self.clock = retry_clock if retry_clock is not None else type(self).retry_clock

    def with_retries(self, operation: Callable[[], T], *, describe: str) -> T:
        """Call ``operation`` under this source's retry policy.

        Parameters
        ----------
        operation
            One request; it raises ``RetryableSourceError`` for what may pass.
        describe
            What the request asks for, for the log and the final error.

        Returns
        -------
        T
            What ``operation`` returned.
        """
        return call_with_retries(operation, describe=describe, policy=self.policy, clock=self.clock)


_DAY = Timeframe(86_400)
INTRADAY_REVISION_MARGIN = pd.Timedelta(minutes=15)
"""How long after an intraday bar ends a provider may still revise it (late prints)."""
DAILY_REVISION_MARGIN = pd.Timedelta(hours=6)
"""How long after a daily bar's UTC date ends its session may still trade (US post-market)."""


def settled_exchange_bars_before(timeframe: Timeframe, now: pd.Timestamp) -> pd.Timestamp:
    """The cut-off for exchange bars that start off the epoch grid or are revised late.

    A bar is final once it has ended and the provider's revision margin has
    passed: :data:`INTRADAY_REVISION_MARGIN` for intraday bars,
    :data:`DAILY_REVISION_MARGIN` for daily and longer ones stamped with
    their trading date at 00:00 UTC.

    Parameters
    ----------
    timeframe
        The bar length.
    now
        The current time (UTC).

    Returns
    -------
    pandas.Timestamp
        Bars starting before it are final.
    """
    daily = timeframe >= _DAY
    margin = DAILY_REVISION_MARGIN if daily else INTRADAY_REVISION_MARGIN
    return timeframe.shift(now - margin, -1)


@functools.cache
def _source_entry_points() -> dict[str, EntryPoint]:
    return {entry_point.name: entry_point for entry_point in entry_points(group=ENTRY_POINT_GROUP)}


@functools.cache
def _discovered_source(name: str) -> type[DataSource]:
    source_class = _source_entry_points()[name].load()
    if not (isinstance(source_class, type) and issubclass(source_class, DataSource)):
        raise TypeError(f"entry point {name!r} in {ENTRY_POINT_GROUP} is not a DataSource class")
    return source_class


_registered_sources: dict[str, type[DataSource]] = {}


def register_source(source_class: type[DataSource]) -> type[DataSource]:
    """Make a source class available by its ``name`` in this process.

    Use it as a decorator for a source defined in a notebook; installed
    packages use the ``quantdesk.sources`` entry-point group instead.

    Parameters
    ----------
    source_class
        A ``DataSource`` subclass with a ``name``.

    Returns
    -------
    type
        The same class, so this works as a decorator.
    """
    if not (isinstance(source_class, type) and issubclass(source_class, DataSource)):
        raise InvalidInputError(f"{source_class!r} is not a DataSource subclass")
    name = getattr(source_class, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidInputError(
            f"{source_class.__name__}.name must be an identifier such as 'mydata'"
        )
    _registered_sources[name] = source_class
    return source_class


def available_sources() -> dict[str, type[DataSource]]:
    """Every source known in this process, by name.

    Returns
    -------
    dict
        Source name to source class, sorted by name.
    """
    discovered = {name: _discovered_source(name) for name in _source_entry_points()}
    combined = {**discovered, **_registered_sources}
    return dict(sorted(combined.items()))


def get_source(name: str, settings: Settings) -> DataSource:
    """The source called ``name``, built once per settings and reused.

    Reuse keeps what a source learned (an exchange's markets, HTTP sessions,
    which symbols exist) across loads in one process. Of the installed
    sources, only this one's module is imported.

    Parameters
    ----------
    name
        A source name such as ``"sample"``.
    settings
        The settings the source is built with.

    Returns
    -------
    DataSource
        A ready source.

    Raises
    ------
    UnknownNameError
        When no source has that name; the message lists the close matches.
    """
    source_class = _registered_sources.get(name)
    if source_class is None:
        if name not in _source_entry_points():
            raise UnknownNameError("data source", name, available_sources())
        source_class = _discovered_source(name)
    return _built_source(source_class, settings)


@functools.lru_cache(maxsize=64)
def _built_source(source_class: type[DataSource], settings: Settings) -> DataSource:
    return source_class(settings)
