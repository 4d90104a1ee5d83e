"""The Bot: raw webhook body in, replies out, with each session read and written around it."""

from __future__ import annotations

import functools
import inspect
import time
import types
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from ..platforms import Platform, Source, get_platform
from ..errors import ConfigError
from ..stores.base import Clock, SessionStore
from ..turns import Turn, changed_keys, copy_raw
from .context import Context, Session
from .replies import Delivery, Reply, check_all_awaited
from ..frozen import FrozenDict, freeze
from ..json_values import check_json_state
from ..record import LAST_ACTIVITY_FIELD, STATE_FIELD
from . import time_travel
from .sync import run_sync

Action = Callable[..., Awaitable[Any]]
TurnListener = Callable[[Turn], None]


class Bot:
    """Runs ``action`` for every event, with Bottender's session semantics.

    Events of one session run one at a time, in the order they arrived, in this process
    (through the store's ``locks``, so Bots sharing a store take turns too); the store's
    ``lock`` extends that to other processes sharing a file or redis store.
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
        self._use_store(session_store)
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
            replaced = self.session_store
            self._use_store(session_store)
            run_sync(replaced.close())

    def _use_store(self, session_store: SessionStore) -> None:
        """Take ``session_store``; it is initialised before its first event."""
        self.session_store = session_store
        self._store_ready = False

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
                if turn is not None:
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

    async def run(self, body: Mapping[str, Any], platform: str | Platform = "console") -> list[Turn]:
        """Handle every event in ``body``; one :class:`Turn` per handled event."""
        handler = get_platform(platform)
        return [
            await self._handle_event(handler, raw_event)
            for raw_event in handler.split(body) if not handler.is_ignored(raw_event)
        ]

    def say(
        self,
        text: str | None = None,
        platform: str = "console",
        *,
        payload: str | None = None,
        user: str = "1",
        group: str | None = None,
        room: str | None = None,
    ) -> list[str]:
        """Send one simulated message and wait for the replies; works inside Jupyter's loop."""
        body = get_platform(platform).build_body(
            text=text, payload=payload, source=Source(user=user, group=group, room=room)
        )
        return [reply.text for reply in run_sync(self.handle_request(body, platform))]

    async def read_session(self, session_id: str) -> dict[str, Any] | None:
        """The stored session (None when absent or expired), read in turn with its events."""
        async with self.session_store.locks.hold(session_id):
            await self._ensure_store()
            return await self.session_store.read(session_id)

    async def reset_session(self, session_id: str) -> None:
        """Put the session's state back to ``initial_state``, keeping its other fields.

        Kept in the history as a turn of kind ``"reset"``.
        """
        async with self.session_store.locks.hold(session_id):
            await self._ensure_store()
            async with self.session_store.lock(session_id):
                record = await self.session_store.read(session_id)
                if record is not None:
                    await time_travel.record_turn(self, record, "reset", self.initial_state, None)

    def serve(self, port: int = 5000, host: str = "127.0.0.1", public_url: str | None = None) -> Any:
        """Serve :meth:`webhook_app` in the background; a handle with ``url``, ``urls``, ``stop()``."""
        from ..serving import serve

        return serve(self, port=port, host=host, public_url=public_url)

    def poll_telegram(self, timeout: int = 30) -> Any:
        """Long-poll Telegram's ``getUpdates`` in the background; a handle with ``stop()``."""
        from ..serving import poll_telegram

        return poll_telegram(self, timeout=timeout)

    # -- history and time travel (SPEC §7): synchronous like say(), with async twins -------

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
            session_id = None if key is None else f"{handler.name}:{key}"
        if session_id is None:
            turn = await self._turn(handler, raw_event, None, delivery)
        else:
            locks = self.session_store.locks
            if not locks.try_enter(session_id):  # idle sessions enter without a coroutine
                await locks.enter(session_id)
            try:
                if not self._store_ready:
                    await self._ensure_store()
                async with self.session_store.lock(session_id):
                    if delivery is not None and await self._handled_before(
                            handler, raw_event, session_id):
                        return None
                    turn = await self._turn(handler, raw_event, session_id, delivery)
            finally:
                locks.leave(session_id)
        if self._listeners:
            self._notify(turn)
        return turn

    async def _handled_before(
        self, handler: Platform, raw_event: Mapping[str, Any], session_id: str
    ) -> bool:
        """True when the session's kept turns hold this event's platform id (a redelivery)."""
        event_id = handler.event_id(raw_event)
        if event_id is None or not self.keep_history or self.session_store.history is None:
            return False
        for kept in reversed(await self.session_store.turns(session_id)):
            raw = kept.get("raw")
            if kept.get("kind") == "event" and isinstance(raw, Mapping) and (
                    handler.event_id(raw) == event_id):
                return True
        return False

    async def _turn(
        self, handler: Platform, raw_event: Mapping[str, Any], session_id: str | None,
        delivery: Delivery | None = None,
    ) -> Turn:
        """Read the session, run the action (and the actions it chains to), write the session.

        The caller holds the session. Without a session id the action runs with no session.
        """
        store = self.session_store
        if session_id is None:
            record = None
            context = Context(
                platform=handler.name, event=handler.event(raw_event), session=None,
                initial_state=self.initial_state,
                no_session_reason=f"no session key can be derived from this {handler.name} event",
                delivery=delivery,
            )
        else:
            # A body a turn cannot keep is refused before it runs, not after its session is written.
            raw_copy = copy_raw(raw_event) if self.keep_history else None
            record = await store.read(session_id)
            if record is None:
                record = {"id": session_id, "platform": handler.name}
            _refresh(record, handler.session_fields(raw_event))
            # A record without _state (Bottender writes one when a request maps to no
            # event) starts from the initial state, as Bottender's Context does.
            state = record.get(STATE_FIELD)
            context = Context(
                platform=handler.name, event=handler.event(raw_event), session=Session(record),
                initial_state=self.initial_state,
                state=self.initial_state if state is None else freeze(state),
                delivery=delivery,
            )
        state_before = context.state
        action: Any = self.action
        while callable(action):  # Bottender's chaining: an action may return the next one
            result = action(context, {}) if _takes_props(action) else action(context)
            action = await result if _is_awaitable(result) else result
        check_all_awaited(context.sendings)
        now = self.clock()
        event = context.event
        turn = Turn(
            session_id, handler.name, now, "event", event.text, event.payload, raw_event,
            [reply.text for reply in context.replies], state_before, context.state,
            changed_keys(state_before, context.state),
        )
        if record is not None:
            record[STATE_FIELD] = context.state
            record[LAST_ACTIVITY_FIELD] = int(now * 1000)
            await time_travel.keep_and_write(self, session_id, record, turn, raw_copy)
        return turn

    def _notify(self, turn: Turn) -> None:
        for listener in self._listeners:
            listener(turn)

    async def _ensure_store(self) -> None:
        if not self._store_ready:
            await self.session_store.init()
            self._store_ready = True


def _refresh(record: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Update the session's ``user`` (``group``, ``page`` ...) from the event, as Bottender does.

    A field that still names the same id is merged, keeping what was stored about it.
    """
    for field, value in fields.items():
        old = record.get(field)
        if old == value:
            continue
        same_id = type(old) is dict and type(value) is dict and old.get("id") == value.get("id")
        record[field] = {**old, **value} if same_id else value


def _is_awaitable(value: Any) -> bool:
    return type(value) is types.CoroutineType or inspect.isawaitable(value)


@functools.lru_cache(maxsize=1024)
def _takes_props(action: Callable[..., Any]) -> bool:
    """True when an action accepts ``(context, props)``, as Bottender actions may."""
    try:
        parameters = inspect.signature(action).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)
