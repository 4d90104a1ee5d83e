"""Sessions kept in this process, least recently used dropped first, like Bottender's memory store."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, show
from ..record import dumps_utf8, encode_record, parse
from .base import Clock, ExpiresIn, SessionStore
from .held import HeldSession
from .history import MemoryHistory, TurnRecord, encode_turn, keep_recent, mark_used


class MemorySessionStore(SessionStore):
    """An LRU of sessions, each kept as the JSON text a persistent store would hold.

    Reading or writing a session makes it the most recently used; past ``max_size`` the least
    recently used one is dropped (Bottender's ``maxSize``, 500 by default). The LRU is the
    stdlib's ``OrderedDict``, least recently used first (:func:`.history.keep_recent`): a
    step is a few C calls, where a cachetools ``LRUCache`` step costs a few Python calls,
    on every event.

    Keeping JSON text makes the memory store round-trip like the others: a non-JSON value
    fails on write as it would in the file or redis store, and every read is a fresh copy
    that nothing else shares. A record a caller writes is checked as it is encoded
    (:func:`~bottender_nb.record.dumps_utf8`); a record the runner commits was checked part
    by part as those parts came in (:func:`~bottender_nb.record.encode_record`). So a read
    parses without checking again. A change's session and turn are both encoded before
    either is kept, so a failed commit leaves nothing to take back.
    """

    take_waits = False  # _take reads this process's memory: it never waits

    def __init__(
        self, max_size: int = 500, *, expires_in: ExpiresIn = None, clock: Clock = time.time
    ) -> None:
        super().__init__(expires_in=expires_in, clock=clock)
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ConfigError(f"max_size must be a whole number from 1, got {show(max_size)}; "
                              "e.g. max_size=500.")
        self.max_size = max_size
        self._sessions: OrderedDict[str, bytes] = OrderedDict()
        self.history = MemoryHistory(max_sessions=max_size)

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        return self._parsed(session_id)

    async def _take(self, session_id: str, cancels: int) -> HeldSession:
        """The session read for a change: nothing to wait for across processes here."""
        record = self._parsed(session_id)
        if record is not None and self.is_expired(record):
            record = None
        return HeldSession(self, session_id, record)

    def _parsed(self, session_id: str) -> dict[str, Any] | None:
        """A fresh copy of the kept record (None when there is none); it is now the most
        recently used."""
        text = mark_used(self._sessions, session_id)
        return None if text is None else parse(text)  # checked when kept: no second check

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Keep ``session`` as JSON text; a non-JSON value raises and stores nothing."""
        keep_recent(self._sessions, session_id, dumps_utf8(session), self.max_size)

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        await self.write(session_id, record)

    async def _commit(
        self, held: HeldSession, record: dict[str, Any], turn: TurnRecord | None, keep: int,
        history: list[TurnRecord] | None,
    ) -> int | None:
        """Encode the session and its turn first, then keep both: a value that cannot be
        encoded raises before anything is kept, and keeping cannot fail, so there is nothing
        to undo."""
        data = encode_record(record)  # the runner's record: its parts were checked as they came in
        text = None if turn is None else encode_turn(turn)
        if history is not None:
            self.history.replace_now(held.session_id, history)
        index = None if text is None else self.history.add(held.session_id, text, keep, turn)
        keep_recent(self._sessions, held.session_id, data, self.max_size)
        return index

    async def _destroy(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def _all(self) -> list[dict[str, Any]]:
        # Reading the dict does not touch recency: listing is not using.
        return [parse(text) for text in list(self._sessions.values())]
