"""Labelled figures as a row of tiles, the way pages show a summary at a glance."""

from __future__ import annotations

import html
from collections.abc import Iterable

__all__ = ["tiles_html"]


def tiles_html(cells: Iterable[tuple[str, str]], *, css_class: str = "quantdesk-tiles") -> str:
    """Each ``(label, value)`` as a small box, label above value, wrapping across the page.

    Parameters
    ----------
    cells
        The figures, in order; both texts are escaped.
    css_class
        The class of the row, for tests and styles.

    Returns
    -------
    str
        The HTML.
    """
    boxes = "".join(
        '<div style="padding: 6px 14px; border: 1px solid #ddd; border-radius: 6px; '
        'min-width: 80px">'
        f'<div style="color: #666; font-size: 0.8em">{html.escape(label)}</div>'
        f'<div style="font-size: 1.15em">{html.escape(value)}</div></div>'
        for label, value in cells
    )
    return (
        f'<div class="{html.escape(css_class)}" '
        f'style="display: flex; flex-wrap: wrap; gap: 10px">{boxes}</div>'
    )
