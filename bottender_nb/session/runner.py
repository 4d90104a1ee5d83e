"""The Bot: raw webhook body in, replies out, and the one path that changes a session.

Every change -- an event, a rewind, a fork, a reset, a replayed turn -- goes the same way:
``store.hold(session_id)`` holds the session (in this process, then across processes) and
reads it, the change runs, and ``held.commit`` stores the session and its turn together. So an
event that returns was stored whole, one that raises left its session and history as they were,
and one cancelled while it waited for its session never ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..frozen import FrozenDict, freeze, thaw
from ..json_values import check_json_state
from ..platforms import Platform, Source, get_platform
from ..record import LAST_ACTIVITY_FIELD, STATE_FIELD
from ..session_ids import split_session_id
from ..stores.base import Clock, SessionStore
from ..stores.history import TurnRecord
from ..turns import Turn, changed_keys, copy_raw
from . import time_travel
from .actions import Action, refresh, run_action
from .context import Context, Session
from .replies import Delivery, Reply, handled_before
from .sync import run_sync

TurnListener = Callable[[Turn], None]


class Bot:
    """Runs ``action`` for every event, with Bottender's session semantics.

    Events of one session run one at a time, in the order they arrived, in this process
    (through the store's ``locks``, so Bots sharing a store take turns too) and across the
    processes sharing a file or redis store: see the module docstring.
    """

    def __init__(
        self,
        action: Action,
        *,
        initial_state: Mapping[str, Any] | None = None,
        session_store: SessionStore | None = None,
        history: int = 1000,
        clock: Clock = time.time,
        channels: Mapping[str, Any] | None = None,
    ) -> None:
        """``history``: turns kept per session (oldest dropped first); 0 keeps none.
        ``channels``: real platforms, in Bottender's config shape (see :meth:`webhook_app`)."""
        if isinstance(history, bool) or not isinstance(history, int) or history < 0:
            raise ConfigError(
                f"history must be the number of turns to keep per session (an int >= 0), "
                f"not {history!r}; e.g. Bot(action, history=1000), or 0 to keep none."
            )
        self.keep_history = history
        if session_store is None:
            from ..stores.memory import MemorySessionStore

            session_store = MemorySessionStore()
        check_json_state(initial_state or {})
        from ..channels import make_channels

        self.channels = make_channels(channels)
        self.action = action
        self.initial_state: FrozenDict = freeze(initial_state or {})
        self.clock = clock
        self.session_store = session_store
        self._listeners: list[TurnListener] = []

    @classmethod
    def from_config(cls, action: Action, config: Mapping[str, Any] | str | Path) -> Bot:
        """A bot configured like Bottender: a dict, ``bottender.config.json`` or ``.py``."""
        from ..config import bot_options

        return cls(action, **bot_options(config))

    def webhook_app(self, public_url: str | None = None) -> Any:
        """An ASGI app serving each channel's webhook at its path (``public_url``: the URL the
        platforms call, when a proxy or tunnel is in front)."""
        from ..webhooks import webhook_app

        return webhook_app(self, public_url)

    def reconfigure(
        self,
        *,
        initial_state: Mapping[str, Any] | None = None,
        session_store: SessionStore | None = None,
        channels: Mapping[str, Any] | None = None,
    ) -> None:
        """Swap the initial state, the store and/or the channels in place (open chat panes
        keep this bot).

        The store replaced is closed (its connections, its lock files), unless it is the
        same store again.
        """
        if channels is not None:
            from ..channels import make_channels

            self.channels = make_channels(channels)
        if initial_state is not None:
            check_json_state(initial_state)
            self.initial_state = freeze(initial_state)
        if session_store is not None and session_store is not self.session_store:
            replaced, self.session_store = self.session_store, session_store
            run_sync(replaced.close())

    def on_turn(self, listener: TurnListener, *, remove: bool = False) -> None:
        """Call ``listener(turn)`` after every handled event (transcripts, live views);
        ``remove=True`` stops calling it (as ipywidgets' ``on_click(callback, remove=True)``)."""
        if not remove:
            self._listeners.append(listener)
        elif listener in self._listeners:
            self._listeners = [kept for kept in self._listeners if kept is not listener]

    async def handle_request(
        self, body: Mapping[str, Any], platform: str = "console", *,
        delivery: Delivery | None = None,
    ) -> list[Reply]:
        """Handle a raw webhook body; the bot's replies, in order.

        ``delivery``: the channel the body came through (a real user's platform): each reply
        is sent through it, and an event whose platform id was already handled for its
        session (a redelivery) is skipped.
        """
        handler = get_platform(platform)
        replies: list[Reply] = []
        for raw_event in handler.split(body):
            if not handler.is_ignored(raw_event):
                turn = await self._handle_event(handler, raw_event, None, delivery)
                if turn is not None and turn.replies:
                    replies += [Reply(text, turn.session_id) for text in turn.replies]
        return replies

    async def handle_event(
        self, raw_event: Mapping[str, Any], platform: str = "console", *,
        session_id: str | None = None,
    ) -> Turn | None:
        """Handle one raw event (as a body's ``split`` gives it, or a turn's ``raw``).

        None when the platform ignores the event (a bot's own Slack message, a LINE
        webhook check). Replaying recorded turns resends them this way; ``session_id`` files
        the event under that session instead of the one its body names (a fork's turns).
        """
        handler = get_platform(platform)
        if handler.is_ignored(raw_event):
            return None
        return await self._handle_event(handler, raw_event, session_id)

    def say(
        self, text: str | None = None, platform: str = "console", *, payload: str | None = None,
        user: str = "1", group: str | None = None, room: str | None = None,
    ) -> list[str]:
        """Send one simulated message and wait for the replies; works inside Jupyter's loop."""
        body = get_platform(platform).build_body(
            text=text, payload=payload, source=Source(user=user, group=group, room=room)
        )
        return [reply.text for reply in run_sync(self.handle_request(body, platform))]

    async def read_session(self, session_id: str) -> dict[str, Any] | None:
        """The stored session (None when absent or expired), read in turn with its events."""
        store = self.session_store
        async with store.locks.hold(session_id):
            await store.ready()
            return await store.read(session_id)

    async def reset_session(self, session_id: str) -> None:
        """Put the session's state back to ``initial_state``, keeping its other fields.

        Kept in the history as a turn of kind ``"reset"``; a session never stored stays so.
        """
        await self.apply_state(session_id, self.initial_state, kind="reset", only_existing=True)

    async def apply_state(
        self, session_id: str, state: Mapping[str, Any], *, kind: str = "reset", raw: Any = None,
        history: list[TurnRecord] | None = None, start: Mapping[str, Any] | None = None,
        new: bool = False, only_existing: bool = False,
    ) -> Turn | None:
        """Make ``state`` the session's state, kept as a turn of ``kind`` (rewind, fork, reset).

        The same path as an event: held, read, committed with its turn. ``history`` and
        ``start``: the turns and the record (user, state ...) a session that is not stored
        starts from (a fork's copies); ``new``: a HistoryError if the session exists;
        ``only_existing``: do nothing (None) for a session never stored.
        """
        platform = split_session_id(session_id)[0]
        async with self.session_store.hold(session_id) as held:
            if new and (held.record is not None or await held.turns()):
                raise time_travel.exists_error(session_id)
            if only_existing and held.record is None:
                return None
            record = held.record or {**(start or {}), "id": session_id, "platform": platform}
            before = thaw(record.get(STATE_FIELD) or {})
            now = self.clock()
            record[STATE_FIELD], record[LAST_ACTIVITY_FIELD] = thaw(state), int(now * 1000)
            turn = Turn(session_id, record["platform"], now, kind, raw=raw, state_before=before,
                        state=record[STATE_FIELD], changed=changed_keys(before, record[STATE_FIELD]))
            turn.index = await held.commit(record, turn.as_record(), self.keep_history,
                                           history=history)
        self._notify(turn)
        return turn

    def serve(self, port: int = 5000, host: str = "127.0.0.1", public_url: str | None = None) -> Any:
        """Serve :meth:`webhook_app` in the background; a handle with ``url``, ``urls``, ``stop()``."""
        from ..serving import serve

        return serve(self, port=port, host=host, public_url=public_url)

    def poll_telegram(self, timeout: int = 30) -> Any:
        """Long-poll Telegram's ``getUpdates`` in the background; a handle with ``stop()``."""
        from ..serving import poll_telegram

        return poll_telegram(self, timeout=timeout)

    # -- history and time travel: synchronous like say(), with async twins ------------------

    def history(self, session_id: str) -> list[Turn]:
        """The session's kept turns, oldest first."""
        return run_sync(self.history_async(session_id))

    def rewind(self, session_id: str, turn: int) -> Turn:
        """The state after ``turn`` becomes the session's state, as a new ``"rewind"`` turn."""
        return run_sync(self.rewind_async(session_id, turn))

    def fork(self, session_id: str, turn: int, to: str | None = None) -> str:
        """A new session with ``session_id``'s state and history up to ``turn``; its id."""
        return run_sync(self.fork_async(session_id, turn, to=to))

    async def history_async(self, session_id: str) -> list[Turn]:
        """:meth:`history`, awaitable."""
        return await time_travel.history(self, session_id)

    async def rewind_async(self, session_id: str, turn: int) -> Turn:
        """:meth:`rewind`, awaitable."""
        return await time_travel.rewind(self, session_id, turn)

    async def fork_async(self, session_id: str, turn: int, to: str | None = None) -> str:
        """:meth:`fork`, awaitable."""
        return await time_travel.fork(self, session_id, turn, to)

    async def _handle_event(
        self, handler: Platform, raw_event: Mapping[str, Any], session_id: str | None = None,
        delivery: Delivery | None = None,
    ) -> Turn | None:
        if session_id is None:
            key = handler.session_key(raw_event)
            session_id = None if key is None else handler.session_id(key)
        if session_id is None:
            context = self._context(handler, raw_event, None, delivery)
            turn = await run_action(self.action, context, None, self.clock)
        else:
            # A body a turn cannot keep is refused before it runs, not after its session is written.
            raw_copy = copy_raw(raw_event) if self.keep_history else None
            async with self.session_store.hold(session_id) as held:
                if delivery is not None and await handled_before(held, handler, raw_event):
                    return None
                record = held.record or {"id": session_id, "platform": handler.name}
                context = self._context(handler, raw_event, record, delivery)
                turn = await run_action(self.action, context, session_id, self.clock)
                record[STATE_FIELD] = turn.state
                record[LAST_ACTIVITY_FIELD] = int(turn.time * 1000)
                kept = turn.as_record()
                kept["raw"] = raw_copy
                turn.index = await held.commit(record, kept, self.keep_history)
        if self._listeners:
            self._notify(turn)
        return turn

    def _context(
        self, handler: Platform, raw_event: Mapping[str, Any], record: dict[str, Any] | None,
        delivery: Delivery | None,
    ) -> Context:
        """The context an action runs in: on the held session's ``record`` (its fields
        refreshed from the event), or, for an event without a session (None), on none."""
        event = handler.event(raw_event)
        if record is None:
            return Context(
                platform=handler.name, event=event, session=None,
                initial_state=self.initial_state, delivery=delivery,
                no_session_reason=f"no session key can be derived from this {handler.name} event",
            )
        refresh(record, handler.session_fields(raw_event))
        # A record without _state (Bottender writes one when a request maps to no
        # event) starts from the initial state, as Bottender's Context does.
        state = record.get(STATE_FIELD)
        # Positional: keyword arguments to a class cost a dict of their own, on every event.
        return Context(handler.name, event, Session(record), self.initial_state,
                       self.initial_state if state is None else freeze(state), delivery)

    def _notify(self, turn: Turn) -> None:
        for listener in self._listeners:
            listener(turn)
