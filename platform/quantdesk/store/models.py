"""SQLAlchemy models of the core tables (migration 0001), for typed queries.

The migrations own the schema: these classes only mirror it, and a test
checks that both agree. Nothing here creates tables, policies or grants.
The ``owner`` column is left to its default (``current_user``), so code
using these models never decides whose row it writes. Every key leads with
``owner`` (migration 0003), so ids are unique per owner and an index search
never passes over another user's rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Double,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from quantdesk.store.roles import SCHEMA

_CURRENT_USER = text("current_user")
_NOW = text("now()")
_NEW_UUID = text("gen_random_uuid()")
_EMPTY_JSON = text("'{}'::jsonb")


class Base(DeclarativeBase):
    """The declarative base of quantdesk's tables, all in schema ``quantdesk``."""

    metadata = MetaData(schema=SCHEMA)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dict[str, Any]: JSONB,
        uuid.UUID: Uuid,
        datetime: DateTime(timezone=True),
        str: Text,
        bytes: LargeBinary,
        float: Double,
        int: Integer,
    }


OWNER_TYPE = Text(collation="C")
"""Role names compare in the "C" collation, so ``owner = current_user`` can use an index."""


def _owner() -> Mapped[str]:
    return mapped_column(OWNER_TYPE, nullable=False, server_default=_CURRENT_USER)


def _set_now_by_default() -> Mapped[datetime]:
    return mapped_column(nullable=False, server_default=_NOW)


def _new_id() -> Mapped[uuid.UUID]:
    return mapped_column(server_default=_NEW_UUID)


def _owner_key(column: str) -> PrimaryKeyConstraint:
    return PrimaryKeyConstraint("owner", column)


class Profile(Base):
    """One row per user: their display name."""

    __tablename__ = "profiles"
    __table_args__ = (_owner_key("id"),)

    id: Mapped[uuid.UUID] = _new_id()
    owner: Mapped[str] = mapped_column(
        OWNER_TYPE, nullable=False, unique=True, server_default=_CURRENT_USER
    )
    display_name: Mapped[str | None]
    created_at: Mapped[datetime] = _set_now_by_default()


class Job(Base):
    """A unit of background work: its state, progress and the heartbeat of its submitter."""

    __tablename__ = "jobs"
    __table_args__ = (_owner_key("id"),)

    id: Mapped[uuid.UUID] = _new_id()
    owner: Mapped[str] = _owner()
    kind: Mapped[str]
    status: Mapped[str] = mapped_column(server_default=text("'queued'"))
    progress: Mapped[float | None]
    message: Mapped[str | None]
    parameters: Mapped[dict[str, Any]] = mapped_column(server_default=_EMPTY_JSON)
    created_at: Mapped[datetime] = _set_now_by_default()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime] = _set_now_by_default()
    error: Mapped[str | None]


class JobResult(Base):
    """A finished job's results as one JSON document, committed with its completion."""

    __tablename__ = "job_results"
    __table_args__ = (
        _owner_key("job_id"),
        ForeignKeyConstraint(["owner", "job_id"], ["jobs.owner", "jobs.id"], ondelete="CASCADE"),
    )

    owner: Mapped[str] = _owner()
    job_id: Mapped[uuid.UUID]
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = _set_now_by_default()


class Backtest(Base):
    """A saved backtest run: its inputs, statistics and data fingerprint."""

    __tablename__ = "backtests"
    __table_args__ = (
        _owner_key("id"),
        # ON DELETE SET NULL (job_id) in the database: only job_id, never owner.
        ForeignKeyConstraint(["owner", "job_id"], ["jobs.owner", "jobs.id"], ondelete="SET NULL"),
    )

    id: Mapped[uuid.UUID] = _new_id()
    owner: Mapped[str] = _owner()
    created_at: Mapped[datetime] = _set_now_by_default()
    name: Mapped[str | None]
    strategy: Mapped[str | None]
    source: Mapped[str | None]
    symbol: Mapped[str | None]
    timeframe: Mapped[str | None]
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    parameters: Mapped[dict[str, Any]]
    config: Mapped[dict[str, Any]]
    stats: Mapped[dict[str, Any]]
    data_fingerprint: Mapped[str | None]
    engine_version: Mapped[str]
    bar_count: Mapped[int]
    trade_count: Mapped[int]
    final_equity: Mapped[float | None]
    job_id: Mapped[uuid.UUID | None]


class BacktestEquity(Base):
    """A run's equity curve and its bars' closes, as one Parquet blob (see :mod:`.run_codec`)."""

    __tablename__ = "backtest_equity"
    __table_args__ = (
        _owner_key("backtest_id"),
        ForeignKeyConstraint(
            ["owner", "backtest_id"], ["backtests.owner", "backtests.id"], ondelete="CASCADE"
        ),
    )

    backtest_id: Mapped[uuid.UUID]
    owner: Mapped[str] = _owner()
    point_count: Mapped[int]
    data: Mapped[bytes]


class BacktestTrades(Base):
    """A run's trade records, as one Parquet blob, with its open position in the metadata."""

    __tablename__ = "backtest_trades"
    __table_args__ = (
        _owner_key("backtest_id"),
        ForeignKeyConstraint(
            ["owner", "backtest_id"], ["backtests.owner", "backtests.id"], ondelete="CASCADE"
        ),
    )

    backtest_id: Mapped[uuid.UUID]
    owner: Mapped[str] = _owner()
    trade_count: Mapped[int]
    data: Mapped[bytes]


class Model(Base):
    """A trained model: its parameters, metrics and serialized artifact."""

    __tablename__ = "models"
    __table_args__ = (_owner_key("id"),)

    id: Mapped[uuid.UUID] = _new_id()
    owner: Mapped[str] = _owner()
    name: Mapped[str]
    kind: Mapped[str]
    symbol: Mapped[str | None]
    timeframe: Mapped[str | None]
    parameters: Mapped[dict[str, Any]] = mapped_column(server_default=_EMPTY_JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(server_default=_EMPTY_JSON)
    data_fingerprint: Mapped[str | None]
    artifact: Mapped[bytes | None]
    created_at: Mapped[datetime] = _set_now_by_default()


class Prediction(Base):
    """A model's predictions for one symbol and horizon, as one blob."""

    __tablename__ = "predictions"
    __table_args__ = (
        _owner_key("id"),
        ForeignKeyConstraint(
            ["owner", "model_id"], ["models.owner", "models.id"], ondelete="CASCADE"
        ),
    )

    id: Mapped[uuid.UUID] = _new_id()
    owner: Mapped[str] = _owner()
    model_id: Mapped[uuid.UUID]
    symbol: Mapped[str | None]
    timeframe: Mapped[str | None]
    horizon: Mapped[int | None]
    created_at: Mapped[datetime] = _set_now_by_default()
    data: Mapped[bytes | None]
