"""The record of which time ranges of a series are known, as a small JSON document.

Coverage is kept apart from the bars because a range can be known and hold
no bars (a weekend for stocks). The document looks like::

    {"format": 1, "ranges": [["2024-01-01T00:00:00+00:00", "2024-02-01T00:00:00+00:00"]]}

with each range half-open, ``[start, end)``, in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from quantdesk.core.time_range import TimeRange, merge_ranges, to_utc_timestamp
from quantdesk.errors import CacheError, InvalidInputError

COVERAGE_FILE_NAME = "coverage.json"
_FORMAT_VERSION = 1


def encode_coverage(ranges: Iterable[TimeRange]) -> bytes:
    """Serialise coverage ranges, merged and sorted.

    Parameters
    ----------
    ranges
        The covered ranges, in any order.

    Returns
    -------
    bytes
        The UTF-8 JSON document.
    """
    pairs = [[piece.start.isoformat(), piece.end.isoformat()] for piece in merge_ranges(ranges)]
    document = {"format": _FORMAT_VERSION, "ranges": pairs}
    return (json.dumps(document, indent=1) + "\n").encode()


def decode_coverage(content: bytes, path: Path, fix: str) -> list[TimeRange]:
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
    list of TimeRange
        The covered ranges, merged and sorted.

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
    except (ValueError, KeyError, TypeError, InvalidInputError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CacheError(f"coverage file {path} is damaged ({reason}); {fix}") from None
    return merge_ranges(pieces)
