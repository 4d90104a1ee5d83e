"""Sessions kept in this process, least recently used dropped first, like Bottender's memory store."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from cachetools import Cache, LRUCache

from ..session.record import dumps, parse
from .base import Clock, ExpiresIn, SessionStore


class MemorySessionStore(SessionStore):
    """An LRU of sessions stored as JSON text, so it round-trips exactly like a persistent store.

    Reading or writing a session makes it the most recently used; past ``max_size`` the least
    recently used one is dropped (Bottender's ``maxSize``, 500 by default). Storing text, not
    objects, means every read is an independent copy and a non-JSON value fails here as it
    would in the file or redis store.
    """

    def __init__(
        self, max_size: int = 500, *, expires_in: ExpiresIn = None, clock: Clock = time.time
    ) -> None:
        super().__init__(expires_in=expires_in, clock=clock)
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be a positive int, got {max_size!r}.")
        self.max_size = max_size
        self._sessions: LRUCache[str, str] = LRUCache(maxsize=max_size)

    async def _read(self, session_id: str) -> dict[str, Any] | None:
        try:
            text = self._sessions[session_id]  # refreshes recency
        except KeyError:
            return None
        return parse(text)  # type: ignore[no-any-return]

    async def read(self, session_id: str) -> dict[str, Any] | None:
        """The live session: one LRU lookup and one parse, as this is on every event's path."""
        try:
            text = self._sessions[session_id]  # refreshes recency
        except KeyError:
            return None
        record = parse(text)
        if self.expires_in is not None and self.is_expired(record):
            return None
        return record  # type: ignore[no-any-return]

    async def write(self, session_id: str, session: Mapping[str, Any]) -> None:
        """Store ``session`` as JSON text: one encode, which is also the copy and the check."""
        self._sessions[session_id] = dumps(session)

    async def _write(self, session_id: str, record: dict[str, Any]) -> None:
        self._sessions[session_id] = dumps(record)

    async def _destroy(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def _all(self) -> list[dict[str, Any]]:
        # Cache.__getitem__ reads without touching recency: listing is not using.
        return [parse(Cache.__getitem__(self._sessions, key)) for key in list(self._sessions)]
