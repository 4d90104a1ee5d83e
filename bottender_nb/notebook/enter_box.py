"""A stock text box whose Enter hands over exactly what was typed, however fast.

ipywidgets' ``Text`` view sends Enter as a custom ``submit`` message at once, while value
updates wait their turn (one in flight per widget): typed fast, Enter overtook the last
keystrokes, so "Hi" arrived as "H" and the box then refilled with "Hi". Here the box syncs its
value only on Enter or on leaving it (``continuous_update=False``), and the browser sends the
``submit`` first and the new value right after, so Enter marks the next value change as what
to send. Leaving the box sends nothing (a click elsewhere never sends a half-typed message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets


class EnterBox:
    """``widget`` is the Text box; ``on_enter(text)`` runs with the text Enter submitted."""

    def __init__(self, on_enter: Callable[[str], None], **text_options: Any) -> None:
        self.widget = widgets.Text(continuous_update=False, **text_options)
        self._on_enter = on_enter
        self._entered = False  # Enter was pressed; its value is the next one to arrive
        self.widget.on_msg(self._on_message)
        self.widget.observe(self._on_value, names="value")

    def take(self) -> str:
        """The box's text, leaving it empty."""
        text = self.widget.value
        self.widget.value = ""
        return text

    def _on_message(self, _widget: widgets.Text, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "submit":
            self._entered = True

    def _on_value(self, change: dict[str, Any]) -> None:
        if self._entered and change["new"].strip():
            self._entered = False
            self._on_enter(self.take())
