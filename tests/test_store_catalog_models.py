"""The SQLAlchemy models agree with the tables the migrations create."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql

from quantdesk.store.models import Base
from quantdesk.store.roles import SCHEMA

CORE_MIGRATION = importlib.import_module("quantdesk.store.migrations.versions.0001_core")
RESULTS_MIGRATION = importlib.import_module("quantdesk.store.migrations.versions.0007_job_results")
USER_DATA_TABLES = set(CORE_MIGRATION.TABLES) | {RESULTS_MIGRATION.RESULTS.split(".")[1]}


def kind_of(column_type: Any) -> str:
    """A coarse name for a column type, comparable between models and the catalog."""
    kinds: list[tuple[type[Any], str]] = [
        (sqlalchemy.Uuid, "uuid"),
        (postgresql.UUID, "uuid"),
        (sqlalchemy.JSON, "jsonb"),
        (sqlalchemy.LargeBinary, "bytea"),
        (sqlalchemy.Integer, "integer"),
        (sqlalchemy.Float, "double"),
        (sqlalchemy.String, "text"),
    ]
    if isinstance(column_type, sqlalchemy.DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    for python_type, name in kinds:
        if isinstance(column_type, python_type):
            return name
    raise AssertionError(f"no kind for {column_type!r}")


@pytest.fixture(scope="module")
def engine(postgres_server: Any) -> Iterator[Engine]:
    engine = sqlalchemy.create_engine(postgres_server.superuser_url)
    yield engine
    engine.dispose()


def test_there_is_one_model_per_user_data_table() -> None:
    modelled = {table.name for table in Base.metadata.sorted_tables}
    assert modelled == USER_DATA_TABLES
    assert {table.schema for table in Base.metadata.sorted_tables} == {SCHEMA}


@pytest.mark.parametrize("table", sorted(Base.metadata.tables.values(), key=lambda t: t.name))
def test_a_models_columns_match_the_migrated_table(engine: Engine, table: sqlalchemy.Table) -> None:
    inspector = sqlalchemy.inspect(engine)
    reflected = {column["name"]: column for column in inspector.get_columns(table.name, SCHEMA)}
    assert list(reflected) == [column.name for column in table.columns]
    for column in table.columns:
        actual = reflected[column.name]
        assert actual["nullable"] == column.nullable, column.name
        assert kind_of(actual["type"]) == kind_of(column.type), column.name
        assert (actual.get("default") is not None) == (column.server_default is not None), (
            column.name
        )
    primary_key = inspector.get_pk_constraint(table.name, SCHEMA)["constrained_columns"]
    assert primary_key == [column.name for column in table.primary_key.columns]
    reflected_keys = {
        (tuple(key["constrained_columns"]), key["referred_table"], tuple(key["referred_columns"]))
        for key in inspector.get_foreign_keys(table.name, SCHEMA)
    }
    model_keys = {
        (
            tuple(element.parent.name for element in key.elements),
            key.referred_table.name,
            tuple(element.column.name for element in key.elements),
        )
        for key in table.foreign_key_constraints
    }
    assert model_keys == reflected_keys
