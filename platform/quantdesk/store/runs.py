"""Saved backtest runs: save a result, list, load and remove the current user's runs.

A run is one row of ``quantdesk.backtests`` (what was run, on what, and its
statistics, queryable as ``jsonb``) plus its equity curve (with the bars'
closes, for plotting) and trades table, each one Parquet blob (see
:mod:`quantdesk.store.run_codec`). All three rows
are written in one transaction, so a failure part-way leaves nothing behind.
Row-level security keeps every user to their own runs; asking for someone
else's run looks exactly like asking for a missing one.
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, delete, func, insert, select

from quantdesk.config import Settings
from quantdesk.data.source import SourceAddress
from quantdesk.engine import STAT_KEYS, BacktestConfig, BacktestResult, OpenPosition
from quantdesk.engine.result import DEFAULT_RESULT_PLOTTER
from quantdesk.engine.stats import upgrade_saved_statistics
from quantdesk.errors import (
    DatabaseUnavailableError,
    InvalidInputError,
    RunNotFoundError,
    SavedDataMissingError,
    StoreError,
)
from quantdesk.store.connection import driver_rows, translated_errors, user_engine
from quantdesk.store.identifiers import checked_id
from quantdesk.store.models import Backtest, BacktestEquity, BacktestTrades
from quantdesk.store.run_codec import (
    decode_equity_and_close,
    decode_trades,
    decode_values,
    encode_equity,
    encode_trades,
    encode_values,
    refuse_nul,
)

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "NAME_LIMIT",
    "RunInfo",
    "SavedRun",
    "list_runs",
    "load_run",
    "remove_run",
    "save_run",
    "write_run",
]

NAME_LIMIT = 200
"""The longest run name, in characters."""
DEFAULT_LIST_LIMIT = 100
"""How many runs :func:`list_runs` returns unless told otherwise."""


@dataclass(frozen=True)
class RunInfo:
    """What a listing shows about a saved run.

    Attributes
    ----------
    id
        The run's UUID.
    name
        Its label, or None.
    strategy
        The strategy's name, or None.
    source, symbol, timeframe
        Where the bars came from, when they were loaded by address.
    start_time, end_time
        The first and the last bar's times (UTC).
    bar_count, trade_count
        Bars in the equity curve and closed trades.
    final_equity
        Equity at the last close.
    data_fingerprint
        The hash of the bars (see :func:`quantdesk.engine.data_fingerprint`).
    engine_version
        The engine version that ran it.
    created_at
        When it was saved.
    """

    id: uuid.UUID
    name: str | None
    strategy: str | None
    source: str | None
    symbol: str | None
    timeframe: str | None
    start_time: datetime | None
    end_time: datetime | None
    bar_count: int
    trade_count: int
    final_equity: float | None
    data_fingerprint: str | None
    engine_version: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> RunInfo:
        """Build one from a database row holding the fields in order, quickly.

        The frozen ``__init__`` sets each field through ``object.__setattr__``,
        a third of the time of listing thousands of runs; this fills the
        instance's dictionary at once instead.

        Parameters
        ----------
        row
            The values, in the order of the fields.

        Returns
        -------
        RunInfo
            Equal to ``RunInfo(*row)``.
        """
        info = object.__new__(cls)
        info.__dict__.update(zip(_LISTED_NAMES, row, strict=True))
        return info

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON-ready values (times in ISO 8601, NaN as None)."""
        values = dataclasses.asdict(self)
        values["id"] = str(self.id)
        for key in ("start_time", "end_time", "created_at"):
            moment = values[key]
            values[key] = None if moment is None else moment.isoformat()
        if self.final_equity is not None and not math.isfinite(self.final_equity):
            values["final_equity"] = None
        return values


_LISTED_NAMES = tuple(field.name for field in dataclasses.fields(RunInfo))
_LISTED_COLUMNS = tuple(getattr(Backtest, name) for name in _LISTED_NAMES)
_LIST_STATEMENT = (
    # Admins' policy shows every user's rows: a listing is of one's own. As
    # text, current_user lets the owner index deliver the rows already in order.
    f"SELECT {', '.join(_LISTED_NAMES)} FROM quantdesk.backtests "
    "WHERE owner = current_user::text "
    "ORDER BY created_at DESC, id LIMIT %(limit)s"
)
_LOAD_STATEMENT = (
    "SELECT "
    + ", ".join(f"b.{name}" for name in _LISTED_NAMES)
    + ", b.parameters, b.config, b.stats, e.data, t.data "
    "FROM quantdesk.backtests AS b "
    "JOIN quantdesk.backtest_equity AS e ON e.backtest_id = b.id AND e.owner = b.owner "
    "JOIN quantdesk.backtest_trades AS t ON t.backtest_id = b.id AND t.owner = b.owner "
    "WHERE b.id = %(id)s AND b.owner = current_user"
)


@dataclass(frozen=True, eq=False, repr=False)
class SavedRun(BacktestResult):
    """A saved run loaded back: a :class:`~quantdesk.BacktestResult`, with its listing.

    It plots (``run.plot()``), saves again as a new run, and holds what the
    saved result held: equity, trades, open position, config, parameters,
    closes and provenance. Its ``stats`` are as saved, in
    :data:`~quantdesk.engine.STAT_KEYS` order; a run saved under the old
    definitions comes back in today's (see
    :func:`~quantdesk.engine.stats.upgrade_saved_statistics`).

    Attributes
    ----------
    run_info
        The run's id, name and provenance, as :func:`list_runs` shows them.
    close_saved
        Whether the closes were saved with the run. Runs saved before they
        were kept have NaN for each close, and plotting them raises
        :class:`~quantdesk.errors.SavedDataMissingError`.
    """

    run_info: RunInfo = dataclasses.field(kw_only=True)
    close_saved: bool = dataclasses.field(kw_only=True, default=True)

    @property
    def id(self) -> uuid.UUID:
        """The run's UUID."""
        return self.run_info.id

    def plot(self, *, width: int = 900, plotter: str = DEFAULT_RESULT_PLOTTER) -> Any:
        """Price with trade markers, equity and drawdown; see :meth:`BacktestResult.plot`.

        Raises
        ------
        SavedDataMissingError
            If the run was saved before closes were kept.
        """
        if not self.close_saved:
            raise SavedDataMissingError(
                f"run {self.id} was saved before quantdesk kept the closes, so it cannot be "
                "plotted; run its backtest again and save that with result.save()"
            )
        return super().plot(width=width, plotter=plotter)

    def __repr__(self) -> str:
        label = self.run_info.name or self.strategy_name or "signals"
        return (
            f"SavedRun({self.id}, {label!r}, {len(self.equity)} bars, "
            f"{self.stats['n_trades']} trades, final_equity={self.stats['final_equity']:.2f})"
        )


def save_run(
    result: BacktestResult, *, name: str | None = None, settings: Settings | None = None
) -> RunInfo:
    """Save a backtest result for the current database user, in one transaction.

    Parameters
    ----------
    result
        What :func:`quantdesk.backtest` returned.
    name
        A label for the run (at most :data:`NAME_LIMIT` characters).
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    RunInfo
        The saved run, with its new id.

    Raises
    ------
    InvalidInputError
        For something that is not a result, a bad name, or a value that
        cannot be saved (text with a NUL character, an unsupported type).
    DatabaseUnavailableError
        If the database cannot be reached or goes away; the run is then
        either wholly saved or not at all. A connection lost after the
        commit landed is no error: the run is looked up again and returned.
    StoreError
        If the database refuses.
    """
    _checked_result(result)
    _checked_name(name)
    run_id = uuid.uuid4()
    try:
        with translated_errors("saving the run"), user_engine(settings).begin() as connection:
            saved = write_run(connection, result, name=name, run_id=run_id)
    except DatabaseUnavailableError:
        # The connection may have died after the server committed: look again.
        confirmed = _committed_run(run_id, settings)
        if confirmed is None:
            raise
        return confirmed
    return saved


def write_run(
    connection: Connection,
    result: BacktestResult,
    *,
    name: str | None = None,
    run_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
) -> RunInfo:
    """Write a run's three rows on ``connection``, in the caller's transaction.

    :func:`save_run` is this in a transaction of its own; a job that produced
    the result writes it in the transaction that completes the job.

    Parameters
    ----------
    connection
        The current user's connection, inside a transaction.
    result
        What :func:`quantdesk.backtest` returned.
    name
        A label for the run (at most :data:`NAME_LIMIT` characters).
    run_id
        The run's id; new when None.
    job_id
        The job that produced the run, one of the same user's.

    Returns
    -------
    RunInfo
        The written run.
    """
    row = _backtest_row(_checked_result(result), _checked_name(name))
    # A run saved before closes were kept has NaN in their place: keep none again.
    unknown_close = isinstance(result, SavedRun) and not result.close_saved
    equity = encode_equity(result.equity, close=None if unknown_close else result.close)
    position = result.open_position
    trades = encode_trades(
        result.trades,
        extra={
            "open_position": None
            if position is None
            else encode_values(dataclasses.asdict(position), kind="open position"),
            # jsonb orders keys its own way; this keeps the strategy's order.
            "parameter_order": list(result.parameters),
        },
    )
    run_id = uuid.uuid4() if run_id is None else run_id
    saved = connection.execute(
        insert(Backtest).values(id=run_id, job_id=job_id, **row).returning(*_LISTED_COLUMNS)
    ).one()
    connection.execute(
        insert(BacktestEquity).values(backtest_id=run_id, point_count=row["bar_count"], data=equity)
    )
    connection.execute(
        insert(BacktestTrades).values(
            backtest_id=run_id, trade_count=row["trade_count"], data=trades
        )
    )
    return RunInfo.from_row(saved)


def _committed_run(run_id: uuid.UUID, settings: Settings | None) -> RunInfo | None:
    """The run if its save reached the database after all; None when absent or unknowable."""
    try:
        with translated_errors("checking the run"), user_engine(settings).connect() as connection:
            found = connection.execute(
                select(*_LISTED_COLUMNS).where(Backtest.id == run_id)
            ).first()
    except StoreError:
        return None
    return None if found is None else RunInfo.from_row(found)


def list_runs(
    *, limit: int | None = DEFAULT_LIST_LIMIT, settings: Settings | None = None
) -> list[RunInfo]:
    """The current user's saved runs, newest first.

    Parameters
    ----------
    limit
        At most this many runs; None for all of them.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    list of RunInfo
        Newest first.

    Raises
    ------
    InvalidInputError
        If ``limit`` is not a positive whole number or None.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInputError(f"limit must be a positive whole number or None, not {limit!r}")
    with translated_errors("listing the runs"), user_engine(settings).connect() as connection:
        rows = driver_rows(connection, _LIST_STATEMENT, {"limit": limit}, binary=True)
    return [RunInfo.from_row(row) for row in rows]


def load_run(run_id: uuid.UUID | str, *, settings: Settings | None = None) -> SavedRun:
    """Load one of the current user's saved runs.

    Parameters
    ----------
    run_id
        The run's id, as a UUID or its text.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    SavedRun
        A :class:`~quantdesk.BacktestResult` equal to the saved one (equity,
        trades, statistics, open position, config, parameters, closes and
        provenance), with its listing as ``run_info``.

    Raises
    ------
    InvalidInputError
        If ``run_id`` is not a UUID.
    RunNotFoundError
        If the user has no run with this id (missing or someone else's).
    """
    wanted = _checked_run_id(run_id)
    with translated_errors("loading the run"), user_engine(settings).connect() as connection:
        found = driver_rows(connection, _LOAD_STATEMENT, {"id": wanted}, binary=True)
    if not found:
        raise RunNotFoundError(_missing(wanted))
    row = found[0]
    listed = len(_LISTED_COLUMNS)
    parameters, config, stats, equity, trades = row[listed:]
    info = RunInfo.from_row(row[:listed])
    trades_frame, extra = decode_trades(trades)
    position = extra["open_position"]
    saved_config = BacktestConfig(**decode_values(config))
    saved_equity, saved_close = decode_equity_and_close(equity)
    close = saved_close
    if close is None:
        close = pd.Series(np.nan, index=saved_equity.index, name="close")
    saved_stats = upgrade_saved_statistics(
        decode_values(stats, order=STAT_KEYS),  # type: ignore[arg-type]
        saved_equity,
        initial_cash=saved_config.cash,
        periods_per_year=saved_config.periods_per_year,
        risk_free_rate=saved_config.risk_free_rate,
    )
    return SavedRun.from_saved(
        equity=saved_equity,
        trades=trades_frame,
        stats=saved_stats,
        open_position=None if position is None else OpenPosition(**decode_values(position)),  # type: ignore[arg-type]
        config=saved_config,
        close=close,
        parameters=decode_values(parameters, order=extra["parameter_order"]),
        strategy_name=info.strategy,
        engine_version=info.engine_version,
        data_address=None
        if info.source is None or info.symbol is None
        else str(SourceAddress(info.source, info.symbol)),
        timeframe=info.timeframe,
        # The column allows NULL, but save_run always writes the fingerprint.
        data_fingerprint=info.data_fingerprint or "",
        run_info=info,
        close_saved=saved_close is not None,
    )


def remove_run(run_id: uuid.UUID | str, *, settings: Settings | None = None) -> uuid.UUID:
    """Delete one of the current user's saved runs, with its equity and trades.

    Parameters
    ----------
    run_id
        The run's id, as a UUID or its text.
    settings
        The settings in effect; read from the environment when None.

    Returns
    -------
    uuid.UUID
        The id of the run removed.

    Raises
    ------
    InvalidInputError
        If ``run_id`` is not a UUID.
    RunNotFoundError
        If the user has no run with this id (missing or someone else's).
    """
    wanted = _checked_run_id(run_id)
    statement = (
        delete(Backtest)
        .where(Backtest.id == wanted, Backtest.owner == func.current_user())
        .returning(Backtest.id)
    )
    with translated_errors("removing the run"), user_engine(settings).begin() as connection:
        removed = connection.execute(statement).first()
    if removed is None:
        raise RunNotFoundError(_missing(wanted))
    return wanted


def _backtest_row(result: BacktestResult, name: str | None) -> dict[str, Any]:
    """The ``backtests`` row of a result; the database fills id, owner and created_at."""
    described = {
        "strategy": result.strategy_name,
        "data address": result.data_address,
        "timeframe": result.timeframe,
        "engine version": result.engine_version,
    }
    for what, text in described.items():
        if text is not None:
            refuse_nul(text, f"the result's {what} {text!r}")
    address = None if result.data_address is None else SourceAddress.parse(result.data_address)
    times = pd.DatetimeIndex(result.equity.index)
    if times.tz is None:
        times = times.tz_localize("UTC")
    final_equity = result.stats["final_equity"]
    return {
        "name": name,
        "strategy": result.strategy_name,
        "source": None if address is None else address.source,
        "symbol": None if address is None else address.symbol,
        "timeframe": result.timeframe,
        "start_time": times[0].to_pydatetime() if len(times) else None,
        "end_time": times[-1].to_pydatetime() if len(times) else None,
        "parameters": encode_values(result.parameters, kind="parameter"),
        "config": encode_values(result.config.model_dump(), kind="config"),
        "stats": encode_values(dict(result.stats), kind="statistic"),
        "data_fingerprint": result.data_fingerprint,
        "engine_version": result.engine_version,
        "bar_count": len(result.equity),
        "trade_count": len(result.trades),
        "final_equity": float(final_equity) if isinstance(final_equity, int | float) else None,
    }


def _checked_name(name: object) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise InvalidInputError(f"a run name must be text, not {type(name).__name__}")
    if not name.strip():
        raise InvalidInputError("the run name is blank; give some text or leave it out")
    if len(name) > NAME_LIMIT:
        raise InvalidInputError(
            f"the run name has {len(name)} characters; at most {NAME_LIMIT} are allowed"
        )
    if any(unicodedata.category(character) == "Cc" for character in name):
        raise InvalidInputError(
            f"the run name {name!r} contains control characters; use one line of text"
        )
    return name


def _checked_result(result: object) -> BacktestResult:
    if not isinstance(result, BacktestResult):
        raise InvalidInputError(
            f"save_run takes the BacktestResult quantdesk.backtest returns, "
            f"not {type(result).__name__}"
        )
    return result


def _checked_run_id(value: object) -> uuid.UUID:
    return checked_id(value, what="run", listing="quantdesk runs list")


def _missing(run_id: uuid.UUID) -> str:
    return f"no saved run with id {run_id}; 'quantdesk runs list' shows yours"
