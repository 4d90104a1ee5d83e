"""The saved copy of a chat pane: its chat and state as plain HTML, for pages without a kernel.

Front ends with the widget manager show the live pane; nbconvert, GitHub, nbviewer and a file
reopened without its kernel show only what renders without script. So after the widget's own
output the pane displays one more: ``text/html`` only (escaped, inline-styled, no script,
nothing fetched), under a ``display_id`` that is updated as the chat goes on. A front end
saves the last update with the notebook; nbclient writes it into the executed file. While the
live pane is on the page, its style sheet hides the copy (:data:`.styles.STYLE`).

Why not ``text/html`` in the widget's own bundle: nbconvert ranks the widget view above
``text/html`` (and shows it blank without widget state), and JupyterLab makes a new view of a
widget whenever its output is updated, which would take the focus off the text box after every
message.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from IPython import get_ipython
from IPython.display import display, update_display

UPDATE_DELAY = 0.25
"""Seconds a change waits outside a cell, so a burst of messages sends one update, not many."""


class SavedView:
    """One display of ``render()`` (a mimebundle), brought up to date after the chat changes.

    A change made while a cell runs (``%say``, ``pane.send``) is sent when the cell ends,
    once; one made between cells (typing in the pane) after :data:`UPDATE_DELAY`. So the copy
    follows the chat to its last message, and a chat of thousands of messages is not sent
    whole again for each of them.
    """

    def __init__(self, render: Callable[[], dict[str, str]]) -> None:
        self.display_id = f"bottender-nb-chat-{uuid.uuid4().hex}"
        self._render = render
        self._shown = False
        self._stale = False
        self._in_cell = False
        self._timer: asyncio.TimerHandle | None = None
        self._hooks: _CellHooks | None = None

    def show(self) -> None:
        """Display the copy (called from a cell: ``%chat``, ``display(pane)``, ``pane``)."""
        display(self._render(), raw=True, display_id=self.display_id)
        self._shown, self._stale = True, False
        shell = get_ipython()
        if self._hooks is None and shell is not None:
            self._hooks = _CellHooks(self, shell.events)
            self._in_cell = True  # this cell's end sends what it changes after this

    def changed(self) -> None:
        """The chat or the state changed: update the copy when the cell ends, else shortly."""
        if not self._shown:
            return
        self._stale = True
        if self._in_cell or self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.update()
            return
        self._timer = loop.call_later(UPDATE_DELAY, self._on_timer)

    def update(self) -> None:
        """Send the copy as it is now, if it changed since the last one sent."""
        if self._shown and self._stale:
            self._stale = False
            update_display(self._render(), raw=True, display_id=self.display_id)

    def close(self) -> None:
        """Stop following the chat (the copy shown stays as it is)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._hooks is not None:
            self._hooks.detach()
            self._hooks = None

    def _on_timer(self) -> None:
        self._timer = None
        if not self._in_cell:
            self.update()

    def _cell_started(self) -> None:
        self._in_cell = True

    def _cell_ended(self) -> None:
        self._in_cell = False
        self.update()


class _CellHooks:
    """IPython's pre/post_execute events, passed to a SavedView without keeping it alive."""

    def __init__(self, view: SavedView, events: Any) -> None:
        self.view = weakref.ref(view)
        self.events = events
        events.register("pre_execute", self.pre_execute)
        events.register("post_execute", self.post_execute)

    def pre_execute(self) -> None:
        if (view := self._live()) is not None:
            view._cell_started()

    def post_execute(self) -> None:
        if (view := self._live()) is not None:
            view._cell_ended()

    def detach(self) -> None:
        for event, callback in (("pre_execute", self.pre_execute),
                                ("post_execute", self.post_execute)):
            with suppress(ValueError):
                self.events.unregister(event, callback)

    def _live(self) -> SavedView | None:
        view = self.view()
        if view is None:
            self.detach()
        return view
