"""The bot a notebook builds cell by cell: its config, its action, the session it last talked to.

Plain functions and one small class, so the magics only parse, call and display.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..commands import handle_line, state_of
from ..config import bot_options, session_store
from ..errors import CellError
from ..pane.speakers import check_source
from ..platforms import Source
from ..session.runner import Bot, Turn
from ..session.sync import run_sync

if TYPE_CHECKING:
    from ..pane.chat_pane import ChatPane

DEFAULT_SESSION_ID = "console:1"
_OPTION_FLAGS = {"collectionName": "collection"}  # %sessions' flag for a Bottender option
NO_ACTION = "No bot action is defined yet; define one with %%action (the cell is its body)."


class NotebookBot:
    """The notebook's one bot, created when the first ``%%action`` runs."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = bot_options({})
        self.bot: Bot | None = None
        self.last_session_id: str | None = None
        self._panes: list[weakref.ref[ChatPane]] = []

    def configure(self, config: Mapping[str, Any]) -> str:
        """Take a Bottender-shaped config; rebuild the bot with it. A summary to show."""
        self.options = bot_options(config)
        if self.bot is not None:  # in place, so open chat panes and listeners follow
            self.bot.reconfigure(**self.options)
        return describe(self.options)

    def set_action(self, action: Callable[..., Any]) -> Bot:
        """Make ``action`` the bot's action; panes already open use it from their next message."""
        if self.bot is None:
            self.bot = self._build(action)
        else:
            self.bot.action = action
        return self.bot

    def require_bot(self) -> Bot:
        """The bot, or an error saying how to define its action."""
        if self.bot is None:
            raise CellError(NO_ACTION)
        return self.bot

    def say(self, line: str, *, platform: str, source: Source) -> list[str]:
        """Send one line (a message or a slash command) as ``source``; the replies."""
        bot = self.require_bot()
        check_source(platform, user=source.user, group=source.group, room=source.room)
        return run_sync(handle_line(bot, line, platform=platform, source=source)).replies

    def session_or_last(self, session_id: str | None) -> str:
        """``session_id``, else the session last talked to, else console:1 (the magics' default)."""
        return session_id or self.last_session_id or DEFAULT_SESSION_ID

    def state(self, session_id: str | None = None) -> dict[str, Any]:
        """The state of ``session_id`` (default: the last session talked to, else console:1).

        A session named here that is not stored is an error (a typo must not look like an
        empty state); the default session before its first event shows the state its first
        event will start from, ``initial_state``, as ``/state`` does.
        """
        bot = self.require_bot()
        record = run_sync(bot.read_session(self.session_or_last(session_id)))
        if record is None and session_id is not None:
            raise CellError(
                f"No session {session_id!r} is stored (never talked to, or expired); "
                "%sessions lists the stored ones, e.g. %state console:1."
            )
        return state_of(bot, record)

    def open_chat(self, *, platform: str, source: Source) -> ChatPane:
        """A chat pane on the notebook's bot (kept in :attr:`panes` while its widgets live)."""
        from ..pane.chat_pane import ChatPane

        check_source(platform, user=source.user, group=source.group, room=source.room)
        pane = ChatPane(self.require_bot(), platform=platform, user=source.user,
                        group=source.group, room=source.room)
        self._panes.append(weakref.ref(pane))
        return pane

    @property
    def panes(self) -> list[ChatPane]:
        """The chat panes opened with ``%chat`` that are still open, oldest first."""
        self._panes = [ref for ref in self._panes if ref() is not None]
        return [pane for ref in self._panes if (pane := ref()) is not None]

    def _build(self, action: Callable[..., Any]) -> Bot:
        bot = Bot(action, **self.options)
        bot.on_turn(self._remember)
        return bot

    def _remember(self, turn: Turn) -> None:
        if turn.session_id is not None:
            self.last_session_id = turn.session_id


def describe(options: Mapping[str, Any]) -> str:
    """``Session store: FileSessionStore (.sessions); initial state: {...}``."""
    store = options["session_store"]
    where = getattr(store, "dirname", None)
    detail = f" ({where})" if where is not None else ""
    initial = json.dumps(dict(options.get("initial_state") or {}), ensure_ascii=False)
    return f"Session store: {type(store).__name__}{detail}; initial state: {initial}"


def transcript_lines(line: str, replies: list[str]) -> list[str]:
    """``You > line`` then ``Bot > reply`` for each reply, as the console prints them."""
    return [f"You > {line}", *(f"Bot > {reply}" for reply in replies)]


def load_sessions(
    kit: NotebookBot, dirname: str | None, driver: str | None, store_options: Mapping[str, Any]
) -> Any:
    """What ``%sessions`` shows: a named store or directory, else the notebook bot's store.

    A store opened here for ``--driver`` is closed again once read (its connections with it).
    """
    from ..analysis.frames import sessions_frame

    if dirname is not None and driver not in (None, "file"):
        raise CellError(f"A directory ({dirname!r}) goes with --driver file or no --driver; "
                        f"--driver {driver} reads the server that --url or --host names.")
    if dirname is not None and not os.path.isdir(dirname):
        raise CellError(f"No directory {dirname!r} (in {os.getcwd()!r}); give the directory "
                        "of session files, e.g. %sessions .sessions.")
    if driver is None:
        if store_options:
            named = ", ".join(f"--{_OPTION_FLAGS.get(name, name)}" for name in store_options)
            raise CellError(f"{named} needs --driver redis or --driver mongo; "
                            "e.g. %sessions --driver redis --url redis://localhost:6379.")
        own = kit.options["session_store"] if kit.bot is None else kit.bot.session_store
        return sessions_frame(own if dirname is None else dirname)
    store = session_store({"driver": driver, "stores": {driver: dict(store_options)}})
    try:
        return sessions_frame(store)
    finally:
        run_sync(store.close())
