"""The records pattern detectors return, and their conversion to frames."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantdesk.errors import InvalidInputError

_POINT_PARTS = ("index", "time", "price")


@dataclass(frozen=True)
class PricePoint:
    """One price at one bar.

    Attributes
    ----------
    index
        The bar's position in the frame, from 0.
    time
        The bar's timestamp.
    price
        The price that matters at this bar (a high, a low or a close).
    """

    index: int
    time: pd.Timestamp
    price: float


def records_to_frame(records: Sequence[Any], record_type: type[Any]) -> pd.DataFrame:
    """Turn a list of pattern records into a frame, one row per record.

    Each field becomes a column; a :class:`PricePoint` field ``first`` becomes
    ``first_index``, ``first_time`` and ``first_price``. Times are UTC, missing
    points give ``NaT``, ``<NA>`` and ``NaN``.

    Parameters
    ----------
    records
        Records of one dataclass type, as the detectors return them.
    record_type
        That type; it fixes the columns even when ``records`` is empty.

    Returns
    -------
    pandas.DataFrame
        One row per record, in the order given, on a default index.

    Raises
    ------
    InvalidInputError
        When ``record_type`` is not a dataclass or a record is of another type.
    """
    if not (isinstance(record_type, type) and dataclasses.is_dataclass(record_type)):
        raise InvalidInputError(f"record_type must be a record class, got {record_type!r}")
    for record in records:
        if not isinstance(record, record_type):
            raise InvalidInputError(
                f"expected {record_type.__name__} records, got {type(record).__name__}"
            )
    hints = typing.get_type_hints(record_type)
    columns: dict[str, pd.Series] = {}
    for field in dataclasses.fields(record_type):
        base, optional = _unwrap_optional(hints[field.name])
        values = [getattr(record, field.name) for record in records]
        if base is PricePoint:
            point_hints = typing.get_type_hints(PricePoint)
            for part in _POINT_PARTS:
                parts = [None if point is None else getattr(point, part) for point in values]
                columns[f"{field.name}_{part}"] = _column(parts, point_hints[part], optional)
        else:
            columns[field.name] = _column(values, base, optional)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    arguments = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in arguments:
        others = [argument for argument in arguments if argument is not type(None)]
        return others[0], True
    return hint, False


def _column(values: list[Any], hint: Any, optional: bool) -> pd.Series:
    if hint is pd.Timestamp:
        times = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
        return times.astype("datetime64[ns, UTC]")
    if hint is bool:
        return pd.Series(values, dtype="boolean" if optional else np.bool_)
    if hint is int:
        return pd.Series(values, dtype="Int64" if optional else np.int64)
    if hint is float:
        return pd.Series([np.nan if value is None else value for value in values], dtype=np.float64)
    # Text, literals and anything else stay as Python objects.
    return pd.Series(values, dtype=object)
