"""The chat pane's timeline: the session's turns, one row each; pick one to look back or branch.

Picking a turn shows the state after it in the state panel, its changed keys marked, and
offers *Rewind here* and *Fork from here*, as ``bot.rewind`` and ``bot.fork`` do. The rows are a :class:`TurnList`, whose
update costs the same at turn 10 and turn 10,000; rows the history no longer keeps are dropped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime, timezone

import ipywidgets as widgets

from ..errors import BottenderNbError, HistoryError
from ..platforms import Source
from ..session.runner import Bot
from ..session.sync import run_sync
from ..turns import Turn
from .kernel_loop import KernelTasks
from .source_picker import SourcePicker
from .speakers import source_for
from .state_view import StateView
from .styles import ERROR, NOTE
from .transcript_view import TranscriptView
from .turn_list import TurnList
from .turn_rows import said

LIVE_TITLE = "<b>Session state</b>"
HINT = "Pick a turn to see the state after it, then rewind to it or fork from it."


class TimelineView:
    """The turns of the session a pane talks to; ``select``, ``rewind_here`` and ``fork_here``
    are the code twins of picking a row and pressing the buttons."""

    def __init__(
        self, bot: Bot, platform: str, picker: SourcePicker, state_view: StateView,
        transcript_view: TranscriptView,
    ) -> None:
        self.bot, self.platform, self.picker = bot, platform, picker
        self.state_view, self.transcript_view = state_view, transcript_view
        self.session_id: str | None = None
        self.chosen: Turn | None = None
        self.rows = TurnList()
        self.rows.on_pick(self._show)
        self._tasks = KernelTasks()
        self.detail = widgets.HTML(html.escape(HINT))
        self.detail.add_class("bnb-turn-detail")
        self.rewind_button = widgets.Button(description="Rewind here", icon="undo", disabled=True)
        self.fork_button = widgets.Button(description="Fork from here", icon="code-fork",
                                          disabled=True)
        self.rewind_button.on_click(lambda _: self._tasks.start(self._rewind()))
        self.fork_button.on_click(lambda _: self._tasks.start(self._fork(None)))
        self.widget = self._layout()

    # -- code twins of what a user does ---------------------------------------------------

    def select(self, turn: int | Turn | None) -> Turn | None:
        """Pick ``turn`` (its index) as clicking its row does; None goes back to the live state."""
        index = turn.index if isinstance(turn, Turn) else turn
        if index is None:
            self._unpick()
        else:
            self.rows.pick(index)
        return self.chosen

    def rewind_here(self) -> Turn | None:
        """Press *Rewind here*: the picked turn's state becomes the session's; the new turn."""
        return run_sync(self._rewind())

    def fork_here(self, to: str | None = None) -> str | None:
        """Press *Fork from here*: a new session from the picked turn, which the pane then
        talks to; its id."""
        return run_sync(self._fork(to))

    @property
    def labels(self) -> list[str]:
        """The rows as they read, oldest first."""
        return self.rows.labels

    # -- what the pane tells it -----------------------------------------------------------

    async def read(self, session_id: str | None) -> list[Turn]:
        """``session_id``'s kept turns to :meth:`load`; none if its store keeps no history."""
        if session_id is None or not self._keeps_turns():
            return []
        return await self.bot.history_async(session_id)

    def load(self, session_id: str | None, turns: Iterable[Turn]) -> None:
        """Show ``session_id``'s turns (the pane switched session)."""
        self._unpick()
        self.session_id = session_id
        self.rows.clear()
        self.rows.append(turn for turn in turns if turn.session_id == session_id)
        if not self._keeps_turns():
            self.detail.value = html.escape(
                "This bot keeps no turns (history=0)." if not self.bot.keep_history else
                f"{type(self.bot.session_store).__name__} keeps no turns: no timeline."
            )

    def add(self, turn: Turn) -> None:
        """Append ``turn`` if it is this session's and new; the panel goes back to live."""
        if turn.session_id != self.session_id or turn.index is None:
            return
        self._unpick()
        self.rows.append([turn])
        self.rows.drop_before(turn.index - self.bot.keep_history + 1)

    # -- inside -----------------------------------------------------------------------------

    def _keeps_turns(self) -> bool:
        return bool(self.bot.keep_history) and self.bot.session_store.history is not None

    def _show(self, turn: Turn) -> None:
        """A row was picked: the state after its turn, its changes marked; the buttons."""
        self.chosen = turn
        self.state_view.show(turn.state, marked=turn.changed)
        self.state_view.title.value = f"<b>State after turn {turn.index}</b>"
        self.detail.value = _detail(turn)
        self.rewind_button.disabled = self.fork_button.disabled = False

    def _unpick(self) -> None:
        if self.chosen is None:
            return
        self.chosen = None
        self.rows.pick(None)
        self.state_view.title.value = LIVE_TITLE
        self.detail.value = html.escape(HINT)
        self.rewind_button.disabled = self.fork_button.disabled = True

    async def _rewind(self) -> Turn | None:
        turn, session_id = self._require_pick()
        try:
            made = await self.bot.rewind_async(session_id, turn.index)  # shows via the pane
        except BottenderNbError as exc:
            self._error(exc)
            return None
        self._note(f"Rewound {session_id} to turn {turn.index} (kept as turn {made.index}): "
                   "the next message continues from there.")
        return made

    async def _fork(self, to: str | None) -> str | None:
        turn, session_id = self._require_pick()
        try:
            new_id = await self.bot.fork_async(session_id, turn.index, to=to)
        except BottenderNbError as exc:
            self._error(exc)
            return None
        source = source_for(self.platform, new_id, self.picker.source)
        where = f"Forked {session_id} at turn {turn.index} into {new_id}"
        if source is None:
            self._note(f"{where}; this pane stays on {session_id}.")
            return new_id
        back = self.picker.source
        self._note(f"{where}: this pane now talks to the fork. To go back, pick user "
                   f"{back.user}{_chat_of(back)} above.")
        self.picker.switch(source.user, group=source.group, room=source.room)
        return new_id

    def _require_pick(self) -> tuple[Turn, str]:
        if self.chosen is None or self.session_id is None:
            raise HistoryError("Pick a turn in the timeline first: click its row, or "
                               "pane.timeline.select(n).")
        return self.chosen, self.session_id

    def _note(self, text: str) -> None:
        self.transcript_view.add(NOTE, text, speaker="Note")

    def _error(self, exc: Exception) -> None:
        self.transcript_view.add(ERROR, f"{type(exc).__name__}: {exc}", speaker="Error",
                                 label="Error")

    def _layout(self) -> widgets.VBox:
        box = widgets.VBox([
            widgets.HTML("<b>Timeline</b>"), self.rows.widget,
            widgets.HBox([self.rewind_button, self.fork_button, self.detail]),
        ])
        box.add_class("bnb-timeline")
        return box


def _detail(turn: Turn) -> str:
    when = datetime.fromtimestamp(turn.time, tz=timezone.utc).strftime("%H:%M:%S UTC")
    keys = ", ".join(turn.changed) or "nothing"
    text = f"Turn {turn.index} ({turn.kind} at {when}: {said(turn)}) changed {keys}."
    return html.escape(text)


def _chat_of(source: Source) -> str:
    if source.group is not None:
        return f" in group {source.group}"
    return f" in room {source.room}" if source.room is not None else ""
