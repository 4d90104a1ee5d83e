"""Who the chat pane speaks as: the simulated user, and the group or room they write in."""

from __future__ import annotations

from collections.abc import Callable
from types import EllipsisType

import ipywidgets as widgets

from ..platforms import Source
from .enter_box import EnterBox
from .speakers import SHARED_CHATS, check_source

PRIVATE = ""  # the chat picker's value for a one-to-one chat


class SourcePicker:
    """A user dropdown, a chat dropdown (private / group / room), and a "new id" box for each.

    Switching shows, for example, that on LINE everyone in a group shares the group's session
    while two users in private chats each have their own.
    """

    def __init__(
        self, platform: str, *, user: str = "1", group: str | None = None, room: str | None = None
    ) -> None:
        check_source(platform, user=user, group=group, room=room)
        self.platform = platform
        self.kinds = SHARED_CHATS.get(platform, {})
        self._listeners: list[Callable[[Source], None]] = []
        self._switching = False
        self.user = widgets.Dropdown(description="User", options=[user], value=user)
        self.chat = widgets.Dropdown(description="Chat", options=[("private chat", PRIVATE)])
        self.new_ids: dict[str, EnterBox] = {}
        self.add_buttons: dict[str, widgets.Button] = {}
        adders: list[widgets.Widget] = []
        for kind, label in {"user": "user", **self.kinds}.items():
            box = EnterBox(lambda name, kind=kind: self._add(kind, name),
                           placeholder=f"new {label} id", layout=widgets.Layout(width="9em"))
            button = widgets.Button(description=f"Add {label}",
                                    icon="user-plus" if kind == "user" else "users")
            button.on_click(lambda _, kind=kind: self._add(kind, self.new_ids[kind].take()))
            self.new_ids[kind], self.add_buttons[kind] = box, button
            adders.append(widgets.HBox([box.widget, button]))
        controls: list[widgets.Widget] = [self.user]
        if self.kinds:
            controls.append(self.chat)
        self.widget = widgets.HBox([*controls, *adders])
        self.widget.layout.flex_flow = "row wrap"
        self.switch(user=user, group=group, room=room)
        self.user.observe(self._changed, names="value")
        self.chat.observe(self._changed, names="value")

    def offer_user(self, user: str | None) -> None:
        """List ``user`` in the user dropdown (someone who spoke, e.g. through %say)."""
        if user is None:
            return
        self._switching = True  # adding an option briefly moves the selection; that is no switch
        try:
            self._add_option(self.user, user, user)
        finally:
            self._switching = False

    @property
    def source(self) -> Source:
        """The selected user, in the selected group or room."""
        kind, _, chat_id = self.chat.value.partition(":")
        return Source(
            user=self.user.value,
            group=chat_id if kind == "group" else None,
            room=chat_id if kind == "room" else None,
        )

    def on_change(self, listener: Callable[[Source], None]) -> None:
        """Call ``listener(source)`` whenever the user or the chat is switched."""
        self._listeners.append(listener)

    def switch(
        self,
        user: str | None = None,
        *,
        group: str | None | EllipsisType = ...,
        room: str | None | EllipsisType = ...,
    ) -> Source:
        """Select ``user`` and a group or room (``None``: a private chat; ``...``: unchanged)."""
        before = self.source
        self._switching = True
        try:
            if user is not None:
                check_source(self.platform, user=str(user))
                self._add_option(self.user, str(user), str(user))
                self.user.value = str(user)
            if group is not ... or room is not ...:
                self.chat.value = self._chat_value(group, room)
        finally:
            self._switching = False
        if self.source != before:
            self._changed(None)
        return self.source

    def _chat_value(self, group: str | None | EllipsisType, room: str | None | EllipsisType) -> str:
        for kind, chat_id in (("group", group), ("room", room)):
            if chat_id is None or chat_id is ...:
                continue
            check_source(self.platform, **{kind: chat_id})
            value = f"{kind}:{chat_id}"
            self._add_option(self.chat, f"{self.kinds[kind]} {chat_id}", value)
            return value
        return PRIVATE

    def _add(self, kind: str, name: str) -> None:
        name = name.strip()
        if not name:
            return
        if kind == "user":
            self.switch(user=name)
        else:
            self.switch(**{kind: name})

    @staticmethod
    def _add_option(dropdown: widgets.Dropdown, label: str, value: str) -> None:
        if value not in [option[1] for option in _pairs(dropdown.options)]:
            selected = dropdown.value  # new options reset the selection to the first one
            dropdown.options = [*_pairs(dropdown.options), (label, value)]
            dropdown.value = selected

    def _changed(self, change: object) -> None:
        if self._switching:
            return
        source = self.source
        for listener in self._listeners:
            listener(source)


def _pairs(options: tuple) -> list[tuple[str, str]]:
    """A dropdown's options as (label, value) pairs, whichever way they were given."""
    return [option if isinstance(option, tuple) else (str(option), option) for option in options]
