"""How a page tells the viewer what happened: one sentence for an error, a spinner for long work.

Blocking library calls run in a worker thread so the page stays live; while
they run, the area they fill shows Panel's loading indicator. Any exception
becomes one sentence in the page: quantdesk's own errors are already one
line naming the fix; anything else is named by its type and logged in full
on the server, never shown as a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import panel as pn

from quantdesk.errors import QuantdeskError

__all__ = ["Notice", "disabled_while", "error_sentence", "run_blocking"]

T = TypeVar("T")
NoticeKind = Literal["danger", "success", "info"]

_LOGGER = logging.getLogger("quantdesk.ui")
_MESSAGE_LIMIT = 300


def error_sentence(error: BaseException) -> str:
    """One sentence saying what went wrong, for the page; never a traceback.

    Parameters
    ----------
    error
        What was raised.

    Returns
    -------
    str
        quantdesk's own one-line message, or a plain sentence naming the
        error's type for anything unexpected.
    """
    if isinstance(error, QuantdeskError | ValueError | PermissionError):
        lines = str(error).strip().splitlines()
        first = lines[0] if lines else type(error).__name__
        sentence = first if len(first) <= _MESSAGE_LIMIT else first[: _MESSAGE_LIMIT - 1] + "…"
        return sentence[0].upper() + sentence[1:] if sentence else sentence
    return (
        f"Something unexpected went wrong ({type(error).__name__}); the server log has the details."
    )


class Notice:
    """A line above a page's content for errors and confirmations; hidden when empty."""

    def __init__(self) -> None:
        self.pane = pn.pane.Alert(
            "", alert_type="danger", visible=False, margin=(5, 10), css_classes=["quantdesk-notice"]
        )

    def error(self, error: BaseException) -> None:
        """Show ``error`` as one sentence; an unexpected one is logged with its traceback."""
        if not isinstance(error, QuantdeskError | ValueError | PermissionError):
            _LOGGER.error("dashboard action failed", exc_info=error)
        self._show(error_sentence(error), "danger")

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Show whatever the block raises as one sentence instead of letting it escape."""
        try:
            yield
        except Exception as error:
            self.error(error)

    def success(self, text: str) -> None:
        """Show a confirmation."""
        self._show(text, "success")

    def info(self, text: str) -> None:
        """Show a neutral note."""
        self._show(text, "info")

    def clear(self) -> None:
        """Hide the line."""
        self.pane.visible = False
        self.pane.object = ""

    def _show(self, text: str, kind: NoticeKind) -> None:
        self.pane.alert_type = kind
        self.pane.object = text
        self.pane.visible = True


@contextmanager
def disabled_while(button: pn.widgets.Button) -> Iterator[None]:
    """Disable ``button`` for the block, so a long action is not started twice."""
    button.disabled = True
    try:
        yield
    finally:
        button.disabled = False


async def run_blocking(
    work: Callable[..., T],
    *arguments: Any,
    busy: pn.viewable.Viewable | None = None,
    **keywords: Any,
) -> T:
    """Run ``work(*arguments, **keywords)`` in a worker thread, ``busy`` showing it is loading.

    Parameters
    ----------
    work, arguments, keywords
        The blocking call.
    busy
        The part of the page to mark as loading meanwhile.

    Returns
    -------
    Any
        What ``work`` returned; its exception propagates.
    """
    if busy is not None:
        busy.loading = True
    try:
        return await asyncio.to_thread(work, *arguments, **keywords)
    finally:
        if busy is not None:
            busy.loading = False
