"""ChatPane: chat with a bot in a notebook and watch its session state change as you talk."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from contextvars import ContextVar
from types import EllipsisType
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ..commands import COMMANDS, handle_line, session_id_for, state_of
from ..platforms import Source, get_platform
from ..session.runner import Bot, Turn
from ..session.sync import run_sync
from . import markup
from .enter_box import EnterBox
from .kernel_loop import KernelTasks
from .saved_view import SavedView
from .source_picker import SourcePicker
from .speakers import stored_users, user_id_of
from .state_view import StateView
from .styles import BOT, ERROR, NOTE, STYLE, YOU
from .timeline_view import TimelineView
from .transcript_view import TranscriptView

EXIT_NOTE = "/exit ends a console; a chat pane stays open (clear the cell's output to hide it)."

# The pane whose own message is being handled: its turns are in its transcript already.
_sending: ContextVar[ChatPane | None] = ContextVar("bottender_nb_pane_sending", default=None)


class ChatPane:
    """A widget chat with ``bot``: transcript, text box, session id and live state panel.

    ``pane.send(text)`` is the code twin of typing ``text`` and pressing Enter;
    ``pane.transcript`` is the chat so far as ``(speaker, text)`` pairs; messages sent to
    the pane's session from elsewhere (``%say``, ``bot.say``) join it. The pane holds the
    bot, not its action, so redefining the action (``%%action``) takes effect here at once.
    Displayed, it shows the live widget and a saved copy of the chat for pages without a
    kernel (:mod:`.saved_view`).
    """

    def __init__(
        self,
        bot: Bot,
        platform: str = "console",
        user: str = "1",
        group: str | None = None,
        room: str | None = None,
        *,
        height: str = "320px",
    ) -> None:
        self.bot = bot
        self.platform = get_platform(platform).name
        self.first_user = str(user)
        self.transcript_view = TranscriptView(height=height)
        self.state_view = StateView()
        self.picker = SourcePicker(self.platform, user=self.first_user, group=group, room=room)
        self.session_label = widgets.HTML()
        self.timeline = TimelineView(bot, self.platform, self.picker, self.state_view,
                                     self.transcript_view)
        self.box = EnterBox(
            self._send_text, layout=widgets.Layout(flex="1 1 auto"),
            placeholder=f"Type a message and press Enter, or {', '.join(COMMANDS[:4])}",
        )
        self.text = self.box.widget
        self.text.add_class("bnb-input")
        self.send_button = widgets.Button(description="Send", button_style="primary",
                                          icon="paper-plane")
        self.send_button.add_class("bnb-send")
        self._pending: deque[str] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._tasks = KernelTasks()
        self._session_id: str | None = None
        self._offered_stored_users = False
        self.widget = self._layout()
        self.saved_view = SavedView(self._saved_bundle)
        self.transcript_view.on_change(self.saved_view.changed)
        self.state_view.on_change(self.saved_view.changed)
        self.send_button.on_click(self._on_click)
        self.picker.on_change(self._on_source)
        self._forwarder = _TurnForwarder(self)
        bot.on_turn(self._forwarder)
        self._on_source(self.picker.source)

    # -- code twins of what a user does -------------------------------------------------------

    def send(self, text: str) -> list[str]:
        """Send ``text`` (or a slash command) as the selected user; the bot's replies."""
        if not text.strip():
            return []
        return run_sync(self._exchange(text))

    def switch(
        self,
        user: str | None = None,
        *,
        group: str | None | EllipsisType = ...,
        room: str | None | EllipsisType = ...,
    ) -> Source:
        """Speak as ``user``, in ``group`` or ``room`` (None: a private chat; ...: unchanged)."""
        return self.picker.switch(user, group=group, room=room)

    @property
    def transcript(self) -> list[tuple[str, str]]:
        """The chat so far, as ``(speaker, text)`` pairs."""
        return list(self.transcript_view.entries)

    @property
    def source(self) -> Source:
        """Who the pane speaks as."""
        return self.picker.source

    @property
    def session_id(self) -> str | None:
        """The session the selected user's messages are filed under."""
        return self._session_id

    def to_html(self) -> str:
        """The chat and the state as the saved copy shows them: plain, escaped HTML."""
        return markup.saved_pane(self.transcript_view.saved_bubbles, self.state_view.values,
                                 self.state_view.changed, self._session_id, self.timeline.labels)

    def close(self) -> None:
        """Close the pane's widgets and stop following its bot's events."""
        self.bot.on_turn(self._forwarder, remove=True)
        self.saved_view.close()
        self.timeline.rows.close()
        _close_tree(self.widget)

    def __repr__(self) -> str:
        return f"ChatPane(platform={self.platform!r}, session={self._session_id!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget's view alone: where no widget can be drawn (nbconvert, GitHub) the saved
        copy that follows it shows the chat, so no ``ChatPane(...)`` text stands above it."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle.pop("text/plain", None)
        return bundle

    def _ipython_display_(self) -> None:
        """``display(pane)``, ``%chat``: the live widget, then its saved copy."""
        display(self._repr_mimebundle_(), raw=True)
        self.saved_view.show()

    def _saved_bundle(self) -> dict[str, str]:
        count = len(self.transcript_view.entries)
        summary = f"{self!r}: {count} message{'' if count == 1 else 's'} (saved copy)"
        return {"text/html": self.to_html(), "text/plain": summary}

    # -- one exchange: the typed line, then the bot's replies or the error --------------------

    async def _exchange(self, line: str) -> list[str]:
        source = self.source
        self.transcript_view.add(
            YOU, line, speaker=self._speaker(source), label=self._label(source),
            user=source.user,
        )
        token = _sending.set(self)
        try:
            outcome = await handle_line(self.bot, line, platform=self.platform, source=source)
        except Exception as exc:  # the action's error is shown; the session keeps its state
            self.transcript_view.add(ERROR, f"{type(exc).__name__}: {exc}",
                                     speaker="Error", label="Error")
            return []
        finally:
            _sending.reset(token)
        for reply in outcome.replies:
            self.transcript_view.add(BOT, reply, speaker="Bot",
                                     preformatted=outcome.command is not None)
        if outcome.exit:
            self.transcript_view.add(NOTE, EXIT_NOTE, speaker="Note")
        return outcome.replies  # a /reset shows through _on_turn, as the "reset" turn it is

    def _speaker(self, source: Source) -> str:
        return "You" if source.user == self.first_user else f"User {source.user}"

    def _label(self, source: Source) -> str:
        where = f" in group {source.group}" if source.group else ""
        where = f" in room {source.room}" if source.room else where
        return f"{self._speaker(source)}{where}"

    # -- widget callbacks: never block the kernel -------------------------------------------

    def _on_click(self, _button: widgets.Button) -> None:
        self._send_text(self.box.take())

    def _send_text(self, line: str) -> None:
        if line.strip():
            self._submit(line)

    def _submit(self, line: str) -> None:
        """Queue ``line``; lines are handled one at a time, in the order they were typed."""
        self._pending.append(line)
        if self._worker is None or self._worker.done():
            self._worker = self._tasks.start(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            await self._exchange(self._pending.popleft())

    # -- the session shown -----------------------------------------------------------------

    def _on_source(self, source: Source) -> None:
        self._session_id = session_id_for(self.platform, source)
        self.session_label.value = markup.session_label(self._session_id)
        self.state_view.clear()
        self._tasks.start(self._refresh_state(mark_changes=False))

    async def _refresh_state(self, *, mark_changes: bool) -> None:
        session_id = self._session_id
        record = await self.bot.read_session(session_id) if session_id else None
        turns = await self.timeline.read(session_id)
        if session_id == self._session_id:  # the user may have switched meanwhile
            self.state_view.show(state_of(self.bot, record), mark_changes=mark_changes)
            self.timeline.load(session_id, turns)
        if not self._offered_stored_users:  # once, now that the store is ready
            self._offered_stored_users = True
            await self._offer_stored_users()

    async def _offer_stored_users(self) -> None:
        """List in the picker the users who spoke before the pane opened; those who speak
        while it is open are offered from their turns (:meth:`_on_turn`)."""
        for user in await stored_users(self.bot.session_store, self.platform):
            self.picker.offer_user(user)

    def _on_turn(self, turn: Turn) -> None:
        if turn.platform == self.platform:  # e.g. %say --user 2: the picker offers user 2
            self.picker.offer_user(user_id_of(turn))
        if turn.session_id is not None and turn.session_id == self._session_id:
            if _sending.get() is not self:
                self._add_turn(turn)
            self.timeline.add(turn)  # first: a turn picked in the timeline gives way to this one
            self.state_view.show(turn.state, marked=turn.changed)

    def _add_turn(self, turn: Turn) -> None:
        """A message sent to this session from elsewhere (%say, bot.say), and its replies."""
        text, payload = turn.text, turn.payload
        if turn.kind != "event" or (text is None and payload is None):
            return  # a rewind, fork or reset says so in a Note of its own
        source = Source(user=user_id_of(turn) or self.first_user)
        line = text if text is not None else f"/payload {payload}"
        self.transcript_view.add(YOU, line, speaker=self._speaker(source),
                                 label=self._speaker(source), user=source.user)
        for reply in turn.replies:
            self.transcript_view.add(BOT, str(reply), speaker="Bot")

    def _layout(self) -> widgets.VBox:
        body = widgets.HBox([self.transcript_view.widget, self.state_view.widget])
        self.transcript_view.widget.layout.flex = "2 1 0%"
        self.state_view.widget.layout.flex = "1 1 0%"
        pane = widgets.VBox([
            widgets.HTML(STYLE), self.picker.widget, self.session_label, body,
            widgets.HBox([self.text, self.send_button]), self.timeline.widget,
        ])
        pane.add_class("bnb-pane")
        return pane


class _TurnForwarder:
    """Forwards the bot's turns to a pane without keeping the pane alive."""

    __slots__ = ("pane",)

    def __init__(self, pane: ChatPane) -> None:
        self.pane = weakref.ref(pane)

    def __call__(self, turn: Turn) -> None:
        pane = self.pane()
        if pane is not None:
            pane._on_turn(turn)


def _close_tree(widget: widgets.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()
