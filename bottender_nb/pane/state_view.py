"""The live state panel: one small widget per state key, re-rendered only when its value changes."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

import ipywidgets as widgets

from . import markup

CHANGED_CLASS = "bnb-changed"


class StateView:
    """Shows a session's state and marks the keys whose values the last event changed.

    A key whose value did not change keeps its widget untouched (only its "changed" mark is
    taken off), so a large state costs one small update per changed key, not a re-render.
    """

    def __init__(self) -> None:
        self.rows: dict[str, widgets.HTML] = {}
        self.changed: set[str] = set()
        self._shown: dict[str, str] = {}
        self._listeners: list[Callable[[], None]] = []
        self._keys = widgets.VBox(layout=widgets.Layout(padding="2px 0"))
        self._empty = widgets.HTML("<i>(empty state)</i>")
        self.title = widgets.HTML("<b>Session state</b>")  # the timeline says which turn's
        self.widget = widgets.VBox(
            [self.title, self._empty, self._keys],
            layout=widgets.Layout(min_width="14em", padding="0 0 0 8px"),
        )
        self.widget.add_class("bnb-state")

    def show(
        self, state: Mapping[str, Any], *, mark_changes: bool = True,
        marked: Collection[str] | None = None,
    ) -> set[str]:
        """Display ``state``; mark (and return) the keys that differ from what was shown,
        or the keys ``marked`` names (a past turn's own changes, whatever was shown before)."""
        changed = set()
        for key, value in state.items():
            text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
            if self._shown.get(key) != text:
                self._render(key, value, text)
                changed.add(key)
        removed = set(self._shown) - set(state)
        for key in removed:
            del self._shown[key]
            del self.rows[key]
        if removed or len(self.rows) != len(self._keys.children):
            self._keys.children = tuple(self.rows[key] for key in state)
        if marked is not None:
            changed = set(marked) & set(state)
        self._mark(changed if mark_changes else set())
        self._empty.layout.display = "none" if state else None
        for listener in self._listeners:
            listener()
        return changed

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every state shown."""
        self._listeners.append(callback)

    def clear(self) -> None:
        """Forget what is shown, e.g. before showing another session."""
        self.show({}, mark_changes=False)

    @property
    def values(self) -> dict[str, Any]:
        """The state as the panel shows it."""
        return {key: json.loads(text) for key, text in self._shown.items()}

    def _render(self, key: str, value: Any, text: str) -> None:
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = widgets.HTML()
            row.add_class("bnb-state-key")
        row.value = markup.state_entry(key, value)
        self._shown[key] = text

    def _mark(self, keys: set[str]) -> None:
        for key in self.changed - keys:
            if key in self.rows:
                self.rows[key].remove_class(CHANGED_CLASS)
        for key in keys - self.changed:
            self.rows[key].add_class(CHANGED_CLASS)
        self.changed = set(keys)
