"""The frame every dashboard shares: its title, links to the others, and the notice line.

Links are relative (``./backtests``), so they work wherever the apps are
served: ``panel serve`` at ``/backtests`` or a person's server behind the hub
at ``/user/NAME/panel/backtests``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import panel as pn

from quantdesk.config import Settings
from quantdesk.ui.feedback import Notice

__all__ = ["PAGE_TITLES", "PAGE_WIDTH", "build_page", "load_extensions", "page_frame"]

PAGE_WIDTH = 1240
"""Content width in pixels: fits a 1280x800 window with its scroll bar."""

PAGE_TITLES: dict[str, str] = {
    "overview": "Overview",
    "backtests": "Backtests",
    "sweeps": "Sweeps",
    "predictions": "Predictions",
    "keys": "API keys",
    "system": "System",
}
"""Each dashboard's app name (its file in ``dashboards/``) and title."""

_STYLE = """
.quantdesk-nav a { margin-right: 1.2em; text-decoration: none; color: #1f4e79; }
.quantdesk-nav a.current { font-weight: 600; color: #111; }
"""


def load_extensions() -> None:
    """Load the Panel extensions the pages use (idempotent; call before building one)."""
    pn.extension(design="native", notifications=False)


def page_frame(
    app: str, notice: Notice, content: Iterable[pn.viewable.Viewable]
) -> pn.layout.Column:
    """A dashboard: the title bar with links, the notice line, then ``content``.

    Parameters
    ----------
    app
        This page's name, a key of :data:`PAGE_TITLES`.
    notice
        The page's notice line.
    content
        What the page shows below it.

    Returns
    -------
    panel.layout.Column
        The page, at most :data:`PAGE_WIDTH` wide.
    """
    links = " ".join(
        f'<a class="{"current" if name == app else ""}" href="./{name}">{title}</a>'
        for name, title in PAGE_TITLES.items()
    )
    header = pn.Row(
        pn.pane.HTML(
            f'<div style="font-size: 1.4em; font-weight: 600">quantdesk · {PAGE_TITLES[app]}</div>',
            margin=(5, 10),
        ),
        pn.pane.HTML(
            f'<nav class="quantdesk-nav">{links}</nav>', margin=(12, 10), stylesheets=[_STYLE]
        ),
        styles={"border-bottom": "1px solid #ddd"},
        sizing_mode="stretch_width",
    )
    return pn.Column(
        header,
        notice.pane,
        *content,
        max_width=PAGE_WIDTH,
        sizing_mode="stretch_width",
    )


def build_page(
    app: str,
    build: Callable[[Notice, Settings], Iterable[pn.viewable.Viewable]],
    settings: Settings | None,
) -> pn.layout.Column:
    """A dashboard whose content ``build`` makes; if building fails, the page says why.

    Parameters
    ----------
    app
        This page's name, a key of :data:`PAGE_TITLES`.
    build
        Makes the content, given the page's notice line and the settings.
    settings
        quantdesk's settings; read from the environment when None.

    Returns
    -------
    panel.layout.Column
        The page, or its frame with the error as one sentence (never a blank page).
    """
    load_extensions()
    notice = Notice()
    content: list[pn.viewable.Viewable] = []
    with notice.guard():
        content = list(build(notice, settings if settings is not None else Settings.load()))
    return page_frame(app, notice, content)
