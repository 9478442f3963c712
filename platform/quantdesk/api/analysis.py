"""Indicators and chart patterns, as the modules :mod:`quantdesk.indicators` and
:mod:`quantdesk.patterns`, for the command line's demo to reach through the API.

Their functions take a frame and return Series or records; with no settings,
files or database to resolve, they are the public functions themselves
(``quantdesk.indicators`` is the same module), so the API passes the modules on.
"""

from __future__ import annotations

from quantdesk import indicators, patterns

__all__ = ["indicators", "patterns"]
