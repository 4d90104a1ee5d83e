"""A stock text box whose Enter hands over exactly what was typed, however fast.

ipywidgets' ``Text`` view sends Enter as a custom ``submit`` message at once, while value
updates wait their turn (one in flight per widget): typed fast, Enter overtook the last
keystrokes, so "Hi" arrived as "H" and the box then refilled with "Hi". Here the box syncs its
value only on Enter or on leaving it (``continuous_update=False``), and on Enter the browser
sends ``submit`` first and the edited value right after, so a ``submit`` marks the value that
follows as the one to send. Leaving the box sends nothing (a click elsewhere never sends a
half-typed message).

One case sends no value after ``submit``: text left in the box, unchanged when the user comes
back and presses Enter. The kernel already holds that text; it is sent unless an edited value
arrives within :data:`EDIT_GRACE` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

EDIT_GRACE = 0.25  # s: how long after Enter an edit's value may still arrive
ENTER_WINDOW = 2.0  # s: a value arriving this long after Enter is no longer its value


class EnterBox:
    """``widget`` is the Text box; ``on_enter(text)`` runs with the text Enter submitted."""

    def __init__(self, on_enter: Callable[[str], None], **text_options: Any) -> None:
        self.widget = widgets.Text(continuous_update=False, **text_options)
        self._on_enter = on_enter
        self._entered_at: float | None = None  # when Enter was pressed, until its value came
        self.widget.on_msg(self._on_message)
        self.widget.observe(self._on_value, names="value")

    def take(self) -> str:
        """The box's text, leaving it empty."""
        text = self.widget.value
        self.widget.value = ""
        return text

    def _on_message(self, _widget: widgets.Text, content: Any, _buffers: Any) -> None:
        if not (isinstance(content, dict) and content.get("event") == "submit"):
            return
        self._entered_at = time.monotonic()
        held = self.widget.value
        if held.strip():  # text synced when the box was left; an edit's value may follow
            try:
                asyncio.get_running_loop().call_later(EDIT_GRACE, self._send_held, held)
            except RuntimeError:  # no loop (plain Python): nothing else can arrive
                self._send_held(held)

    def _on_value(self, change: dict[str, Any]) -> None:
        entered, self._entered_at = self._entered_at, None  # this is Enter's value, if any
        if entered is None or time.monotonic() - entered >= ENTER_WINDOW:
            return
        if change["new"].strip():
            self._on_enter(self.take())

    def _send_held(self, held: str) -> None:
        if self._entered_at is not None and self.widget.value == held:
            self._entered_at = None
            self._on_enter(self.take())
