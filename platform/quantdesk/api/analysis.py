"""Indicators and chart patterns, as the modules :mod:`quantdesk.indicators` and
:mod:`quantdesk.patterns`, for the command line's demo to reach through the API.
"""

from __future__ import annotations

from quantdesk import indicators, patterns

__all__ = ["indicators", "patterns"]
