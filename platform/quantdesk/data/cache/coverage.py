"""The record of which time ranges of a series are known, as a small JSON document.

Coverage is kept apart from the bars because a range can be known and hold
no bars (a weekend for stocks). The document looks like::

    {"format": 1, "adjustment": "all",
     "ranges": [["2024-01-01T00:00:00+00:00", "2024-02-01T00:00:00+00:00"]]}

with each range half-open, ``[start, end)``, in UTC. ``adjustment`` is the
basis the bars' prices were adjusted on (see :mod:`quantdesk.data.adjustment`);
it sits in the same file as the ranges so both change in one atomic write.
Documents written before it existed have none: the basis is then unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from quantdesk.core.time_range import TimeRange, merge_ranges, to_utc_timestamp
from quantdesk.errors import CacheError, InvalidInputError

COVERAGE_FILE_NAME = "coverage.json"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class CoverageRecord:
    """What a coverage document holds: the ranges known and the bars' adjustment basis.

    ``adjustment`` is None when the document records no basis (written
    before bases were recorded, or for a series without bars yet).
    """

    ranges: tuple[TimeRange, ...]
    adjustment: str | None = None


def encode_coverage(ranges: Iterable[TimeRange], adjustment: str | None = None) -> bytes:
    """Serialise coverage ranges, merged and sorted, with the bars' adjustment basis.

    Parameters
    ----------
    ranges
        The covered ranges, in any order.
    adjustment
        The adjustment basis of the bars, or None when it is unknown.

    Returns
    -------
    bytes
        The UTF-8 JSON document.
    """
    pairs = [[piece.start.isoformat(), piece.end.isoformat()] for piece in merge_ranges(ranges)]
    document: dict[str, object] = {"format": _FORMAT_VERSION}
    if adjustment is not None:
        document["adjustment"] = adjustment
    document["ranges"] = pairs
    return (json.dumps(document, indent=1) + "\n").encode()


def decode_coverage(content: bytes, path: Path, fix: str) -> CoverageRecord:
    """Read a document made by :func:`encode_coverage`.

    Parameters
    ----------
    content
        The file's bytes.
    path
        Where they came from, for the error message.
    fix
        What the user should do when the file is damaged.

    Returns
    -------
    CoverageRecord
        The covered ranges, merged and sorted, and the adjustment basis if recorded.

    Raises
    ------
    CacheError
        When the document is not valid coverage.
    """
    try:
        document = json.loads(content.decode())
        if not isinstance(document, dict) or document.get("format") != _FORMAT_VERSION:
            raise ValueError(f"expected format {_FORMAT_VERSION}")
        ranges = document["ranges"]
        if not isinstance(ranges, list):
            raise ValueError("'ranges' is not a list")
        pieces = [
            TimeRange(to_utc_timestamp(start, name="start"), to_utc_timestamp(end, name="end"))
            for start, end in ranges
        ]
        adjustment = document.get("adjustment")
        if adjustment is not None and not (isinstance(adjustment, str) and adjustment):
            raise ValueError("'adjustment' is not a name")
    except (ValueError, KeyError, TypeError, InvalidInputError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CacheError(f"coverage file {path} is damaged ({reason}); {fix}") from None
    return CoverageRecord(tuple(merge_ranges(pieces)), adjustment)
